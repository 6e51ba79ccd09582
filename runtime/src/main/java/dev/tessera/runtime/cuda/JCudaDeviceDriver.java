package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.tessera.runtime.TesseraException;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUjit_option;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import jcuda.driver.JITOptions;

/**
 * The CUDA driver API through JCuda: the device's primary context (the one cuBLAS shares), one non-blocking stream,
 * modules loaded from the embedded images with the JIT error log in the exception, launches from a preallocated
 * parameter buffer. Only loaded after {@link CudaProbe} found the driver, since JCuda's JNI library links against it.
 */
final class JCudaDeviceDriver implements CudaDriver {
    private static final ThreadLocal<JCudaDeviceDriver> CURRENT = new ThreadLocal<>();

    private final int ordinal;
    private final CUcontext context = new CUcontext();
    private final RawStream stream = new RawStream();
    private final String name;
    private final long totalMemory;
    private final int computeCapability, multiprocessors, maxSharedOptin;
    private final Map<String, CUmodule> modules = new ConcurrentHashMap<>();
    private final PinnedStaging staging;
    private final DeviceMemory memory = new DriverMemory();

    /** A stream handle whose raw address cuBLAS (through Panama) can be given. */
    static final class RawStream extends CUstream {
        long handle() { return getNativePointer(); }
    }

    /** A device pointer JCuda fills in, read back as a raw address. */
    static final class RawDevicePointer extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }

    JCudaDeviceDriver(int ordinal) {
        this.ordinal = ordinal;
        JCudaDriver.setExceptionsEnabled(false);
        CudaErrors.check("cuInit", JCudaDriver.cuInit(0));
        CUdevice dev = new CUdevice();
        CudaErrors.check("cuDeviceGet(" + ordinal + ")", JCudaDriver.cuDeviceGet(dev, ordinal));
        CudaErrors.check("cuDevicePrimaryCtxRetain", JCudaDriver.cuDevicePrimaryCtxRetain(context, dev));
        CudaErrors.check("cuCtxSetCurrent", JCudaDriver.cuCtxSetCurrent(context));
        CURRENT.set(this);
        byte[] nameBytes = new byte[256];
        CudaErrors.check("cuDeviceGetName", JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, dev));
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) len++;
        name = new String(nameBytes, 0, len, StandardCharsets.UTF_8);
        long[] mem = new long[1];
        CudaErrors.check("cuDeviceTotalMem", JCudaDriver.cuDeviceTotalMem(mem, dev));
        totalMemory = mem[0];
        computeCapability = 10 * attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        multiprocessors = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        maxSharedOptin = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        // Non-blocking: this stream never waits on the legacy default stream, which nothing here uses.
        CudaErrors.check("cuStreamCreate", JCudaDriver.cuStreamCreate(stream, 0x1));
        staging = new PinnedStaging(this);
    }

    private static int attribute(CUdevice dev, int attr) {
        int[] v = new int[1];
        CudaErrors.check("cuDeviceGetAttribute(" + attr + ")", JCudaDriver.cuDeviceGetAttribute(v, attr, dev));
        return v[0];
    }

    @Override public String name() { return name; }

    @Override public long totalMemory() { return totalMemory; }

    @Override public int computeCapability() { return computeCapability; }

    @Override public int multiprocessors() { return multiprocessors; }

    @Override public int maxSharedOptin() { return maxSharedOptin; }

    @Override public void makeCurrent() {
        if (CURRENT.get() == this) return;
        CudaErrors.check("cuCtxSetCurrent", JCudaDriver.cuCtxSetCurrent(context));
        CURRENT.set(this);
    }

    CUstream stream() { return stream; }

    @Override public long streamHandle() { return stream.handle(); }

    @Override public DeviceMemory memory() { return memory; }

    static CUdeviceptr at(long address) { return new CUdeviceptr().withByteOffset(address); }

    @Override public void fill(long address, long bytes, byte value) {
        makeCurrent();
        CudaErrors.check("cuMemsetD8Async", JCudaDriver.cuMemsetD8Async(at(address), value, bytes, stream));
    }

    @Override public void copyDeviceToDevice(long src, long dst, long bytes) {
        makeCurrent();
        CudaErrors.check("cuMemcpyDtoDAsync", JCudaDriver.cuMemcpyDtoDAsync(at(dst), at(src), bytes, stream));
    }

    @Override public void copyToDevice(MemorySegment src, long srcOffset, long dst, long bytes) { staging.toDevice(src, srcOffset, dst, bytes); }

    @Override public void copyToHost(long src, MemorySegment dst, long dstOffset, long bytes) { staging.toHost(src, dst, dstOffset, bytes); }

    @Override public void synchronize(String where) {
        makeCurrent();
        int rc = JCudaDriver.cuStreamSynchronize(stream);
        if (rc != 0) throw CudaErrors.failure("stream synchronise " + where + " on cuda:" + ordinal, rc);
    }

    @Override public long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        CudaErrors.check("cuMemGetInfo", JCudaDriver.cuMemGetInfo(free, total));
        return new long[] {free[0], total[0]};
    }

    @Override public Object function(PtxSource owner, String module, String function) {
        CUmodule m = modules.computeIfAbsent(owner.name() + "/" + module, k -> loadModule(owner, module));
        makeCurrent();
        CUfunction f = new CUfunction();
        int rc = JCudaDriver.cuModuleGetFunction(f, m, function);
        if (rc != 0) throw new TesseraException("CUDA kernel '" + function + "' is not in module '" + module + "' (" + CudaErrors.name(rc)
                + "); entries: " + PtxModules.entries(PtxModules.load(owner, module, computeCapability)));
        return f;
    }

    private CUmodule loadModule(PtxSource owner, String module) {
        byte[] image = PtxModules.image(owner, module, computeCapability);
        makeCurrent();
        CUmodule m = new CUmodule();
        JITOptions jit = new JITOptions();
        jit.putBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER, new byte[16384]);
        jit.putInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, 16384);
        int rc = JCudaDriver.cuModuleLoadDataJIT(m, Pointer.to(image), jit);
        if (rc != 0) {
            String log = jit.getString(CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
            throw new TesseraException("CUDA could not load module '" + module + "' on cuda:" + ordinal + ": " + CudaErrors.name(rc)
                    + (log == null || log.isBlank() ? "" : "; JIT log: " + log.trim()));
        }
        return m;
    }

    @Override public void setMaxDynamicShared(Object function, String name, int bytes) {
        makeCurrent();
        CudaErrors.check("cuFuncSetAttribute(max dynamic shared " + bytes + " B) for " + name,
                JCudaDriver.cuFuncSetAttribute((CUfunction) function, jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    /** Per-thread slot pointers into the launch's parameter buffer, reused across launches. */
    private final ThreadLocal<Pointer[]> bases = new ThreadLocal<>();

    @Override public void launch(Object function, String name, int[] grid, int[] block, int sharedBytes, ByteBuffer params,
                                 int[] offsets, int[] sizes, boolean[] pointers, int argc) {
        makeCurrent();
        Pointer base = Pointer.to(params);
        NativePointerObject[] slots = new NativePointerObject[argc];
        for (int i = 0; i < argc; i++) slots[i] = base.withByteOffset(offsets[i]);
        int rc = JCudaDriver.cuLaunchKernel((CUfunction) function, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes,
                stream, Pointer.to(slots), null);
        if (rc != 0) throw CudaErrors.failure("launch of " + name + " (grid " + grid[0] + "x" + grid[1] + "x" + grid[2] + ", block " + block[0]
                + "x" + block[1] + "x" + block[2] + ", shared " + sharedBytes + " B)", rc);
    }

    /** The raw memory of this device as the allocator sees it. */
    private final class DriverMemory implements DeviceMemory {
        private String lastError;

        @Override public long allocate(long bytes) {
            makeCurrent();
            RawDevicePointer p = new RawDevicePointer();
            int rc = JCudaDriver.cuMemAlloc(p, bytes);
            if (rc == CudaErrors.CUDA_ERROR_OUT_OF_MEMORY) {
                lastError = CudaErrors.name(rc);
                return 0;
            }
            CudaErrors.check("cuMemAlloc(" + bytes + " B) on cuda:" + ordinal, rc);
            return p.address();
        }

        @Override public void free(long address) {
            makeCurrent();
            CudaErrors.check("cuMemFree on cuda:" + ordinal, JCudaDriver.cuMemFree(at(address)));
        }

        @Override public String lastError() { return lastError; }
    }
}
