package dev.tessera.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One kernel launch being assembled: grid, block, dynamic shared memory and arguments, then {@link #launch()}.
 * Arguments are written in order into a parameter buffer allocated once per thread (direct memory, so the
 * driver reads them without copies); each argument gets its own aligned slot, and the driver receives the
 * array of slot addresses, as {@code cuLaunchKernel} requires. Not thread-safe: get one per launch from
 * {@link CudaDevice#kernel}.
 *
 * <pre>{@code
 * device.kernel("elementwise", "fill_f32").grid(blocks).block(256).ptr(out).i64(n).f64(value).launch();
 * }</pre>
 */
public final class KernelLaunch {
    private static final int BUFFER_BYTES = 8192, MAX_ARGS = 64;

    private final CudaDevice device;
    private final ByteBuffer params = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.nativeOrder());
    private final int[] offsets = new int[MAX_ARGS], sizes = new int[MAX_ARGS];
    private final boolean[] pointers = new boolean[MAX_ARGS];
    private Object function;
    private String name;
    private int argc, gx, gy, gz, bx, by, bz, shared, sharedLimit;

    KernelLaunch(CudaDevice device) { this.device = device; }

    KernelLaunch reset(Object function, String name, int sharedLimit) {
        this.function = function;
        this.name = name;
        this.sharedLimit = sharedLimit;
        argc = 0;
        params.clear();
        gx = gy = gz = bx = by = bz = 1;
        shared = 0;
        return this;
    }

    /** Grid size in blocks (x only). */
    public KernelLaunch grid(int x) { return grid(x, 1, 1); }

    public KernelLaunch grid(int x, int y, int z) {
        if (x <= 0 || y <= 0 || z <= 0) throw new IllegalArgumentException(name + ": grid " + x + "x" + y + "x" + z + " must be positive");
        gx = x;
        gy = y;
        gz = z;
        return this;
    }

    /** Threads per block (x only). */
    public KernelLaunch block(int x) { return block(x, 1, 1); }

    public KernelLaunch block(int x, int y, int z) {
        if (x <= 0 || y <= 0 || z <= 0 || (long) x * y * z > 1024) {
            throw new IllegalArgumentException(name + ": block " + x + "x" + y + "x" + z + " must be positive and at most 1024 threads");
        }
        bx = x;
        by = y;
        bz = z;
        return this;
    }

    /** Dynamic shared memory per block, in bytes. */
    public KernelLaunch sharedBytes(int bytes) {
        if (bytes < 0) throw new IllegalArgumentException(name + ": negative shared memory " + bytes);
        shared = bytes;
        return this;
    }

    private int slot(int size, int align) {
        if (argc == MAX_ARGS) throw new IllegalStateException(name + ": more than " + MAX_ARGS + " kernel arguments");
        int at = (params.position() + align - 1) & -align;
        if (at + size > BUFFER_BYTES) throw new IllegalStateException(name + ": kernel arguments exceed " + BUFFER_BYTES + " bytes");
        params.position(at + size);
        offsets[argc] = at;
        pointers[argc] = false;
        sizes[argc++] = size;
        return at;
    }

    /** A device pointer (address in bytes, offset already applied). */
    public KernelLaunch ptr(long address) {
        params.putLong(slot(8, 8), address);
        pointers[argc - 1] = true;
        return this;
    }

    public KernelLaunch i32(int v) { params.putInt(slot(4, 4), v); return this; }

    public KernelLaunch i64(long v) { params.putLong(slot(8, 8), v); return this; }

    public KernelLaunch f32(float v) { params.putFloat(slot(4, 4), v); return this; }

    public KernelLaunch f64(double v) { params.putDouble(slot(8, 8), v); return this; }

    /** A struct passed by value, e.g. a {@link CudaLayout}: its bytes in the C layout, 8-byte aligned. */
    public KernelLaunch struct(byte[] bytes) {
        int at = slot(bytes.length, 8);
        params.put(at, bytes);
        return this;
    }

    /** Enqueues the kernel on the device's stream. Errors of configuration throw here; faults at the next sync. */
    public void launch() {
        if (gy > 65535 || gz > 65535) throw new IllegalArgumentException(name + ": grid y and z are limited to 65535, got " + gy + ", " + gz);
        if (shared > sharedLimit) {
            throw new IllegalArgumentException(name + ": " + shared + " B of dynamic shared memory exceeds the kernel's limit of " + sharedLimit
                    + " B; call CudaDevice.allowSharedMemory first");
        }
        device.driver().launch(function, name, new int[] {gx, gy, gz}, new int[] {bx, by, bz}, shared, params, offsets, sizes, pointers, argc);
        if (CudaDevice.SYNC_EACH_LAUNCH) device.synchronize("after " + name);
    }
}
