package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
    @TempDir
    Path dir;

    @Test
    void writesJsonLinesAndPngCharts() throws Exception {
        Path f = dir.resolve("run/metrics.jsonl");
        try (MetricsLog log = new MetricsLog(f)) {
            for (int s = 1; s <= 5; s++) log.log(Map.of("step", s, "kind", "train", "loss", 3.0 / s, "bpb", MetricsLog.bitsPerByte(3.0 / s)));
            log.log(Map.of("step", 5, "kind", "eval", "loss", 0.9));
            List<Path> pngs = log.writeCharts(dir.resolve("run"));
            assertEquals(List.of("bpb.png", "loss.png"), pngs.stream().map(p -> p.getFileName().toString()).toList());
            for (Path p : pngs) {
                byte[] b = Files.readAllBytes(p);
                assertTrue(b.length > 1000 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G', "a PNG image: " + p);
            }
        }
        List<String> lines = Files.readAllLines(f);
        assertEquals(6, lines.size());
        assertTrue(lines.get(5).contains("\"kind\":\"eval\""), lines.get(5));
        assertEquals(1 / Math.log(2), MetricsLog.bitsPerByte(1), 1e-12);
    }

    /** Training logs on while the charts of an evaluation are drawn on another thread. */
    @Test
    void drawsChartsWhileRecordsKeepComing() throws Exception {
        Path f = dir.resolve("run/metrics.jsonl");
        try (MetricsLog log = new MetricsLog(f)) {
            for (int s = 1; s <= 200; s++) log.log(Map.of("step", s, "loss", 1.0 / s));
            var pool = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                var charts = pool.submit(() -> log.writeCharts(dir.resolve("run")));
                for (int s = 201; s <= 5000; s++) log.log(Map.of("step", s, "loss", 1.0 / s));
                assertEquals(List.of(dir.resolve("run/loss.png")), charts.get());
            } finally {
                pool.shutdownNow();
            }
            assertEquals(5000, log.records().size());
        }
    }
}
