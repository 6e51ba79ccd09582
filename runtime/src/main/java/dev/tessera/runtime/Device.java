package dev.tessera.runtime;

/** Where a tensor's storage lives: the host CPU or one CUDA GPU. */
public record Device(Kind kind, int index) {
    /** Device families. */
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (index < 0) throw new IllegalArgumentException("device index must be >= 0, got " + index);
        if (kind == Kind.CPU && index != 0) throw new IllegalArgumentException("the CPU device has index 0, got " + index);
    }

    /** The host CPU. */
    public static Device cpu() { return CPU; }

    /** The CUDA GPU with the given ordinal. */
    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda")) return cuda(0);
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
            }
        }
        throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
    }

    public boolean isCpu() { return kind == Kind.CPU; }

    /**
     * True for a CUDA dry-run device (launches checked, not run; see {@code CudaDevice.installDryRun}), whose numbers
     * mean nothing: checks of the values a model computes (finite logits, a finite gradient norm) do not apply there.
     */
    public boolean isDryRun() { return kind == Kind.CUDA && dev.tessera.runtime.cuda.CudaDevice.isDryRun(index); }

    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}
