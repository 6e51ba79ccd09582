package dev.tessera.models.cli;

import dev.tessera.runtime.RuntimeInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code tessera info}: version, CPU path, devices and CUDA libraries found. */
@Command(name = "info", description = "Print the Tessera version, the active CPU path and the devices found.")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.println("tessera " + TesseraCli.version());
        System.out.println("java    " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        System.out.println("cpu     " + RuntimeInfo.cpuDescription());
        System.out.println("memory  " + RuntimeInfo.hostMemoryDescription());
        System.out.println("cuda    " + RuntimeInfo.cudaDescription());
        System.out.println("cublas  " + RuntimeInfo.cublasDescription());
        System.out.println("kernels runtime: " + RuntimeInfo.kernelsDescription());
        System.out.println("        fused:   " + dev.tessera.kernels.FusedPtx.description());
        return 0;
    }
}
