package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.tessera.runtime.DeviceMemoryStats;
import dev.tessera.runtime.TesseraException;
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
 * One CUDA GPU: its primary context (the one cuBLAS shares), one stream on which every kernel and copy of this
 * device runs in order, the modules loaded from the embedded PTX, and its caching allocator. Obtain it with
 * {@link #get(int)}, which fails with one clear line when there is no driver or no such device.
 *
 * <p>The driver's current context is per OS thread, so every entry point calls {@link #makeCurrent()}; do not call
 * CUDA from virtual threads, which migrate between carriers.
 */
public final class CudaDevice {
    /** Synchronise after every launch so faults surface at the launch that caused them (tests, debugging). */
    static final boolean SYNC_EACH_LAUNCH = Boolean.getBoolean("tessera.cuda.sync") || "1".equals(System.getenv("TESSERA_CUDA_SYNC"));

    private static final Map<Integer, CudaDevice> DEVICES = new ConcurrentHashMap<>();
    private static final ThreadLocal<CudaDevice> CURRENT = new ThreadLocal<>();

    private final int ordinal;
    private final CUcontext context = new CUcontext();
    private final RawStream stream = new RawStream();
    private final String name;
    private final long totalMemory;
    private final int computeCapability, multiprocessors, maxSharedOptin;
    private final DeviceAllocator allocator;
    private final Map<String, CUmodule> modules = new ConcurrentHashMap<>();
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final ThreadLocal<KernelLaunch> launches;
    private final PinnedStaging staging;

    /** A stream handle whose raw address cuBLAS (through Panama) can be given. */
    static final class RawStream extends CUstream {
        long handle() { return getNativePointer(); }
    }

    /** A device pointer JCuda fills in, read back as a raw address. */
    static final class RawDevicePointer extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }

    private CudaDevice(int ordinal) {
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
        allocator = new DeviceAllocator(new DriverMemory(), toString());
        launches = ThreadLocal.withInitial(() -> new KernelLaunch(this));
        staging = new PinnedStaging(this);
    }

    private static int attribute(CUdevice dev, int attr) {
        int[] v = new int[1];
        CudaErrors.check("cuDeviceGetAttribute(" + attr + ")", JCudaDriver.cuDeviceGetAttribute(v, attr, dev));
        return v[0];
    }

    /** The device with this ordinal; throws one clear line when CUDA is unavailable or the ordinal is out of range. */
    public static CudaDevice get(int ordinal) {
        CudaDevice d = DEVICES.get(ordinal);
        if (d != null) return d;
        CudaProbe.Result probe = CudaProbe.result();
        if (!probe.available()) throw new TesseraException("cuda:" + ordinal + " is not available: " + probe.reason());
        if (ordinal >= probe.deviceCount()) {
            throw new TesseraException("cuda:" + ordinal + " does not exist: " + probe.deviceCount() + " CUDA device(s) visible");
        }
        synchronized (DEVICES) {
            return DEVICES.computeIfAbsent(ordinal, CudaDevice::new);
        }
    }

    /** True when a CUDA device can be used (the probe found a driver and at least one GPU). */
    public static boolean isAvailable() { return CudaProbe.result().available(); }

    /** Makes this device's context current on the calling thread (cheap when it already is). */
    public void makeCurrent() {
        if (CURRENT.get() == this) return;
        CudaErrors.check("cuCtxSetCurrent", JCudaDriver.cuCtxSetCurrent(context));
        CURRENT.set(this);
    }

    public int ordinal() { return ordinal; }

    public String name() { return name; }

    public long totalMemory() { return totalMemory; }

    /** Compute capability as major·10 + minor (90 for Hopper). */
    public int computeCapability() { return computeCapability; }

    public int multiprocessorCount() { return multiprocessors; }

    /** The most dynamic shared memory one block may opt in to, in bytes. */
    public int maxSharedMemoryOptin() { return maxSharedOptin; }

    CUstream stream() { return stream; }

    /** The raw stream handle (a {@code CUstream}, the same object as a {@code cudaStream_t}) for libraries reached through Panama. */
    public long streamHandle() { return stream.handle(); }

    public DeviceAllocator allocator() { return allocator; }

    public DeviceMemoryStats memoryStats() { return allocator.stats(); }

    /** Free and total memory as the driver sees them (includes other processes). */
    public long[] driverMemoryInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        CudaErrors.check("cuMemGetInfo", JCudaDriver.cuMemGetInfo(free, total));
        return new long[] {free[0], total[0]};
    }

    // ------------------------------------------------------------------ kernels

    /**
     * A launch of {@code function} from the runtime's PTX module {@code module} (native/cuda/runtime/&lt;module&gt;.cu).
     * The returned builder is this thread's and is reset; fill it and call {@link KernelLaunch#launch()}.
     */
    public KernelLaunch kernel(String module, String function) { return kernel(PtxSource.RUNTIME, module, function); }

    /** A launch of a kernel from another module's embedded PTX (the fused-kernels module passes its own source). */
    public KernelLaunch kernel(PtxSource owner, String module, String function) {
        String key = owner.name() + "/" + module + "/" + function;
        CUfunction f = functions.get(key);
        if (f == null) f = functions.computeIfAbsent(key, k -> lookup(owner, module, function));
        return launches.get().reset(f, function);
    }

    private CUfunction lookup(PtxSource owner, String module, String function) {
        CUmodule m = modules.computeIfAbsent(owner.name() + "/" + module, k -> loadModule(owner, module));
        makeCurrent();
        CUfunction f = new CUfunction();
        int rc = JCudaDriver.cuModuleGetFunction(f, m, function);
        if (rc != 0) throw new TesseraException("CUDA kernel '" + function + "' is not in module '" + module + "' (" + CudaErrors.name(rc)
                + "); entries: " + PtxModules.entries(PtxModules.load(owner, module, computeCapability)));
        return f;
    }

    private CUmodule loadModule(PtxSource owner, String module) {
        byte[] ptx = PtxModules.image(owner, module, computeCapability);
        makeCurrent();
        CUmodule m = new CUmodule();
        JITOptions jit = new JITOptions();
        jit.putBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER, new byte[16384]);
        jit.putInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, 16384);
        int rc = JCudaDriver.cuModuleLoadDataJIT(m, Pointer.to(ptx), jit);
        if (rc != 0) {
            String log = jit.getString(CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
            throw new TesseraException("CUDA could not load the PTX of module '" + module + "' on " + this + ": " + CudaErrors.name(rc)
                    + (log == null || log.isBlank() ? "" : "; JIT log: " + log.trim()));
        }
        return m;
    }

    /** Raises a kernel's dynamic shared memory limit above the 48 KiB default (up to {@link #maxSharedMemoryOptin()}). */
    public void allowSharedMemory(PtxSource owner, String module, String function, int bytes) {
        String key = owner.name() + "/" + module + "/" + function;
        CUfunction f = functions.computeIfAbsent(key, k -> lookup(owner, module, function));
        makeCurrent();
        CudaErrors.check("cuFuncSetAttribute(max dynamic shared " + bytes + " B) for " + function,
                JCudaDriver.cuFuncSetAttribute(f, jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    // ------------------------------------------------------------------ memory and copies

    /** Blocks until everything queued on this device's stream has run; a kernel fault surfaces here. */
    public void synchronize(String where) {
        makeCurrent();
        int rc = JCudaDriver.cuStreamSynchronize(stream);
        if (rc != 0) throw CudaErrors.failure("stream synchronise " + where + " on " + this, rc);
    }

    static CUdeviceptr at(long address) { return new CUdeviceptr().withByteOffset(address); }

    /** Sets {@code bytes} bytes at {@code address} to zero, in stream order. */
    public void zero(long address, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        CudaErrors.check("cuMemsetD8Async", JCudaDriver.cuMemsetD8Async(at(address), (byte) 0, bytes, stream));
    }

    /** Device-to-device copy in stream order. */
    public void copyDeviceToDevice(long src, long dst, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        CudaErrors.check("cuMemcpyDtoDAsync", JCudaDriver.cuMemcpyDtoDAsync(at(dst), at(src), bytes, stream));
    }

    /** Copies host memory to the device through pinned staging; returns when the source may be reused. */
    public void copyToDevice(MemorySegment src, long srcOffset, long dst, long bytes) { staging.toDevice(src, srcOffset, dst, bytes); }

    /** Copies device memory to the host through pinned staging, after all queued work; returns when the data is there. */
    public void copyToHost(long src, MemorySegment dst, long dstOffset, long bytes) { staging.toHost(src, dst, dstOffset, bytes); }

    /** A temporary device buffer (indices, partial sums) from the caching allocator; close it when the kernels using it are queued. */
    public DeviceBuffer temporary(long bytes) { return new DeviceBuffer(this, allocator.allocate(bytes), bytes); }

    /** Uploads {@code values} into a temporary buffer of int64. */
    public DeviceBuffer upload(long[] values) {
        DeviceBuffer b = temporary(8L * values.length);
        if (values.length > 0) copyToDevice(MemorySegment.ofArray(values), 0, b.address(), 8L * values.length);
        return b;
    }

    /** Uploads {@code values} into a temporary buffer of int32. */
    public DeviceBuffer upload(int[] values) {
        DeviceBuffer b = temporary(4L * values.length);
        if (values.length > 0) copyToDevice(MemorySegment.ofArray(values), 0, b.address(), 4L * values.length);
        return b;
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
            CudaErrors.check("cuMemAlloc(" + bytes + " B) on " + CudaDevice.this, rc);
            return p.address();
        }

        @Override public void free(long address) {
            makeCurrent();
            CudaErrors.check("cuMemFree on " + CudaDevice.this, JCudaDriver.cuMemFree(at(address)));
        }

        @Override public String lastError() { return lastError; }
    }

    @Override public String toString() { return "cuda:" + ordinal; }

}
