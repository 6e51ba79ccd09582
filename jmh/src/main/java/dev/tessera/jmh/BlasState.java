package dev.tessera.jmh;

import dev.tessera.runtime.cpu.CpuPool;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * OpenBLAS for a benchmark's baseline method, loaded once per fork and set to as many threads as Tessera's pool. A
 * JMH state of its own, so that when OpenBLAS is missing only the baseline fails (in its setup, with the reason) and
 * the Tessera side still runs.
 */
@State(Scope.Benchmark)
public class BlasState {
    OpenBlas lib;

    @Setup(Level.Trial)
    public void setup() {
        lib = OpenBlas.load();
        lib.setNumThreads(CpuPool.threads());
        System.out.println(lib.describe());
    }
}
