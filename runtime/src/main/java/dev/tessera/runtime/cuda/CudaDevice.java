package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.tessera.runtime.DeviceMemoryStats;
import dev.tessera.runtime.TesseraException;

/**
 * One CUDA GPU: its driver (context, one stream on which every kernel and copy of this device runs in order, the
 * modules loaded from the embedded PTX), the kernel handles, and its caching allocator. Obtain it with
 * {@link #get(int)}, which fails with one clear line when there is no driver or no such device.
 *
 * <p>The driver's current context is per OS thread, so every entry point makes it current; do not call CUDA from
 * virtual threads, which migrate between carriers.
 */
public final class CudaDevice {
    /** Synchronise after every launch so faults surface at the launch that caused them (tests, debugging). */
    static final boolean SYNC_EACH_LAUNCH = Boolean.getBoolean("tessera.cuda.sync") || "1".equals(System.getenv("TESSERA_CUDA_SYNC"));

    private static final Map<Integer, CudaDevice> DEVICES = new ConcurrentHashMap<>();

    private final int ordinal;
    private final CudaDriver driver;
    private final DeviceAllocator allocator;
    private final Map<String, Object> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> sharedLimits = new ConcurrentHashMap<>();
    private final ThreadLocal<KernelLaunch> launches;

    private CudaDevice(int ordinal, CudaDriver driver) {
        this.ordinal = ordinal;
        this.driver = driver;
        this.allocator = new DeviceAllocator(driver.memory(), toString());
        this.launches = ThreadLocal.withInitial(() -> new KernelLaunch(this));
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
            return DEVICES.computeIfAbsent(ordinal, i -> new CudaDevice(i, new JCudaDeviceDriver(i)));
        }
    }

    /**
     * Makes cuda:{@code ordinal} a dry-run device on a machine without a GPU: memory is host memory, copies are host
     * copies, and every launch is checked against the PTX signature of its kernel (name, argument count and sizes,
     * block and grid limits, shared memory) instead of running. For tests that check the host side of the CUDA
     * paths; results are meaningless. Refused when a real device already holds that ordinal.
     */
    public static DryRunDriver installDryRun(int ordinal) {
        synchronized (DEVICES) {
            CudaDevice d = DEVICES.get(ordinal);
            if (d != null) {
                if (d.driver instanceof DryRunDriver dry) return dry;
                throw new IllegalStateException("cuda:" + ordinal + " is a real device; a dry run needs a machine without one");
            }
            DryRunDriver dry = new DryRunDriver();
            DEVICES.put(ordinal, new CudaDevice(ordinal, dry));
            return dry;
        }
    }

    /**
     * Makes cuda:{@code ordinal} an emulated device on a machine without a GPU: a dry run whose launches also run the
     * CUDA C kernels on the CPU ({@link KernelEmulator}, from the folder the system property
     * {@value KernelEmulator#FOLDER_PROPERTY} names) and whose GEMMs run a host stand-in for cuBLAS. Returns null, or
     * why it cannot (a real device holds the ordinal, another kind of stand-in does, or the emulator is not built).
     */
    public static String installEmulator(int ordinal) {
        synchronized (DEVICES) {
            CudaDevice d = DEVICES.get(ordinal);
            if (d != null) {
                if (d.driver instanceof DryRunDriver dry && dry.emulating()) return null;
                return "cuda:" + ordinal + " is already " + (d.driver instanceof DryRunDriver ? "a dry-run device" : "a real device");
            }
            if (PtxModules.index(PtxSource.RUNTIME).isEmpty()) {
                return "this build has no PTX (nvcc was not on the PATH), and the emulator checks each launch against it";
            }
            String[] why = new String[1];
            KernelEmulator emulator = KernelEmulator.find(why);
            if (emulator == null) return why[0];
            DEVICES.put(ordinal, new CudaDevice(ordinal, new DryRunDriver(emulator)));
            return null;
        }
    }

    private static final java.util.concurrent.atomic.AtomicBoolean GPU_TESTS_SAID = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * For the gpu-tagged test suites: null when cuda:{@code ordinal} can run them, on a GPU or, where the probe finds
     * none, on the {@linkplain #installEmulator CUDA emulator}; otherwise why not (the probe's reason and the
     * emulator's). The first call in a JVM says on stdout which it is, so a test run's log shows where they ran.
     */
    public static String gpuOrEmulator(int ordinal) {
        String why = gpuOrEmulatorReason(ordinal);
        if (GPU_TESTS_SAID.compareAndSet(false, true)) {
            System.out.println(why != null ? "[gpu] tests tagged gpu are skipped: " + why
                    : isEmulated(ordinal) ? "[gpu] no GPU: tests tagged gpu run on the CUDA emulator (the CUDA kernels on the CPU)"
                    : "[gpu] tests tagged gpu run on " + get(ordinal).name());
        }
        return why;
    }

    private static String gpuOrEmulatorReason(int ordinal) {
        if (isEmulated(ordinal)) return null;
        CudaProbe.Result probe = CudaProbe.result();
        if (probe.available()) return unavailableReason(ordinal);
        String emulator = installEmulator(ordinal);
        return emulator == null ? null : probe.reason() + "; " + emulator;
    }

    /**
     * True when cuda:{@code ordinal} is a {@linkplain #installDryRun dry run}: launches are checked but not run, so the
     * numbers it holds are meaningless (the emulator, which runs the kernels, is not a dry run here).
     */
    public static boolean isDryRun(int ordinal) {
        CudaDevice d = DEVICES.get(ordinal);
        return d != null && d.driver instanceof DryRunDriver dry && !dry.emulating();
    }

    /** True when cuda:{@code ordinal} is the CUDA emulator (kernels run on the CPU). */
    public static boolean isEmulated(int ordinal) {
        CudaDevice d = DEVICES.get(ordinal);
        return d != null && d.driver instanceof DryRunDriver dry && dry.emulating();
    }

    /**
     * Why cuda:{@code ordinal} cannot be used, or null when it can: it is open already (a dry run included), or the
     * probe found a driver and at least {@code ordinal + 1} GPUs.
     */
    public static String unavailableReason(int ordinal) {
        if (DEVICES.containsKey(ordinal)) return null;
        CudaProbe.Result probe = CudaProbe.result();
        if (!probe.available()) return probe.reason();
        if (ordinal >= probe.deviceCount()) return "cuda:" + ordinal + " does not exist: " + probe.deviceCount() + " CUDA device(s) visible";
        return null;
    }

    /** True when a CUDA device can be used (the probe found a driver and at least one GPU). */
    public static boolean isAvailable() { return CudaProbe.result().available(); }

    /** Makes this device's context current on the calling thread (cheap when it already is). */
    public void makeCurrent() { driver.makeCurrent(); }

    public int ordinal() { return ordinal; }

    public String name() { return driver.name(); }

    public long totalMemory() { return driver.totalMemory(); }

    /** Compute capability as major·10 + minor (90 for Hopper). */
    public int computeCapability() { return driver.computeCapability(); }

    public int multiprocessorCount() { return driver.multiprocessors(); }

    /** The most dynamic shared memory one block may opt in to, in bytes. */
    public int maxSharedMemoryOptin() { return driver.maxSharedOptin(); }

    /** The raw stream handle (a {@code CUstream}, the same object as a {@code cudaStream_t}) for libraries reached through Panama. */
    public long streamHandle() { return driver.streamHandle(); }

    CudaDriver driver() { return driver; }

    public DeviceAllocator allocator() { return allocator; }

    public DeviceMemoryStats memoryStats() { return allocator.stats(); }

    /** Free and total memory as the driver sees them (includes other processes). */
    public long[] driverMemoryInfo() { return driver.memoryInfo(); }

    // ------------------------------------------------------------------ kernels

    /**
     * A launch of {@code function} from the runtime's PTX module {@code module} (native/cuda/runtime/&lt;module&gt;.cu).
     * The returned builder is this thread's and is reset; fill it and call {@link KernelLaunch#launch()}.
     */
    public KernelLaunch kernel(String module, String function) { return kernel(PtxSource.RUNTIME, module, function); }

    /** A launch of a kernel from another module's embedded PTX (the fused-kernels module passes its own source). */
    public KernelLaunch kernel(PtxSource owner, String module, String function) {
        String key = owner.name() + "/" + module + "/" + function;
        Object f = functions.get(key);
        if (f == null) f = functions.computeIfAbsent(key, k -> driver.function(owner, module, function));
        return launches.get().reset(f, function, sharedLimits.getOrDefault(key, 48 * 1024));
    }

    /** Raises a kernel's dynamic shared memory limit above the 48 KiB default (up to {@link #maxSharedMemoryOptin()}). */
    public void allowSharedMemory(PtxSource owner, String module, String function, int bytes) {
        String key = owner.name() + "/" + module + "/" + function;
        Object f = functions.computeIfAbsent(key, k -> driver.function(owner, module, function));
        if (bytes > driver.maxSharedOptin()) {
            throw new IllegalArgumentException(function + ": " + bytes + " B of shared memory exceeds the device's " + driver.maxSharedOptin() + " B");
        }
        driver.setMaxDynamicShared(f, function, bytes);
        sharedLimits.merge(key, bytes, Math::max);
    }

    // ------------------------------------------------------------------ memory and copies

    /** Blocks until everything queued on this device's stream has run; a kernel fault surfaces here. */
    public void synchronize(String where) { driver.synchronize(where + " on " + this); }

    /** Sets {@code bytes} bytes at {@code address} to zero, in stream order. */
    public void zero(long address, long bytes) {
        if (bytes > 0) driver.fill(address, bytes, (byte) 0);
    }

    /** Sets every byte to 0xFF (NaN in every float type, −1 in every integer type): see {@code Storage.POISON}. */
    public void poison(long address, long bytes) {
        if (bytes > 0) driver.fill(address, bytes, (byte) 0xFF);
    }

    /** Device-to-device copy in stream order. */
    public void copyDeviceToDevice(long src, long dst, long bytes) {
        if (bytes > 0) driver.copyDeviceToDevice(src, dst, bytes);
    }

    /** Copies host memory to the device through pinned staging; returns when the source may be reused. */
    public void copyToDevice(MemorySegment src, long srcOffset, long dst, long bytes) {
        if (bytes > 0) driver.copyToDevice(src, srcOffset, dst, bytes);
    }

    /** Copies device memory to the host through pinned staging, after all queued work; returns when the data is there. */
    public void copyToHost(long src, MemorySegment dst, long dstOffset, long bytes) {
        if (bytes > 0) driver.copyToHost(src, dst, dstOffset, bytes);
    }

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

    @Override public String toString() { return "cuda:" + ordinal; }
}
