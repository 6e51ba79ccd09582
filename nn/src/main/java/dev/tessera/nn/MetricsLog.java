package dev.tessera.nn;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.runtime.TesseraException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Training metrics: one JSON object per line (step, loss, bits per byte, bytes/s, learning rate, memory, ...),
 * appended and flushed as they come so a crashed run keeps its curve, and PNG charts of every numeric series
 * against the step.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final BufferedWriter out;
    private final List<Map<String, Object>> records = new ArrayList<>();

    /** Opens {@code file} for appending (a resumed run continues the same log). */
    public MetricsLog(Path file) {
        this.file = file;
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new TesseraException("cannot open metrics file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Bits per byte of a mean cross-entropy in nats. */
    public static double bitsPerByte(double lossNats) { return lossNats / Math.log(2); }

    public Path file() { return file; }

    /** Appends one record (kept in insertion order). */
    public synchronized void log(Map<String, ?> record) {
        Map<String, Object> copy = new LinkedHashMap<>(record);
        records.add(copy);
        try {
            out.write(JSON.writeValueAsString(copy));
            out.newLine();
            out.flush();
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("metrics record is not serialisable: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TesseraException("cannot write metrics file " + file + ": " + e.getMessage(), e);
        }
    }

    public synchronized List<Map<String, Object>> records() { return List.copyOf(records); }

    /**
     * True when this Java runtime can draw charts: it has {@code java.desktop} (a jlinked runtime may not, like the one
     * scripts/gpu-pack.sh builds for GPU machines); without it {@link #writeCharts} writes nothing.
     */
    public static boolean chartsAvailable() { return ModuleLayer.boot().findModule("java.desktop").isPresent(); }

    /**
     * Writes {@code <key>.png} into {@code dir} for every numeric key other than {@code step}, plotting it against
     * {@code step}; records of different kinds (e.g. "train" and "eval") are separate series. Returns the files.
     * Draws the records logged so far without holding the log: {@link #log} may go on meanwhile, from another thread.
     */
    public List<Path> writeCharts(Path dir) {
        if (!chartsAvailable()) return List.of();
        List<Map<String, Object>> records = records(); // a logged record is never changed, so a copy of the list will do
        TreeSet<String> keys = new TreeSet<>();
        for (Map<String, Object> r : records) {
            r.forEach((k, v) -> { if (v instanceof Number && !k.equals("step")) keys.add(k); });
        }
        List<Path> written = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            for (String key : keys) {
                Map<String, List<double[]>> series = new LinkedHashMap<>();
                for (Map<String, Object> r : records) {
                    if (!(r.get(key) instanceof Number v) || !(r.get("step") instanceof Number s)) continue;
                    String kind = String.valueOf(r.getOrDefault("kind", "train"));
                    series.computeIfAbsent(kind, k -> new ArrayList<>()).add(new double[] {s.doubleValue(), v.doubleValue()});
                }
                if (series.isEmpty()) continue;
                XYChart chart = new XYChartBuilder().width(800).height(480).title(key).xAxisTitle("step").yAxisTitle(key).build();
                chart.getStyler().setLegendVisible(series.size() > 1);
                for (var e : series.entrySet()) {
                    double[] x = e.getValue().stream().mapToDouble(p -> p[0]).toArray();
                    double[] y = e.getValue().stream().mapToDouble(p -> p[1]).toArray();
                    chart.addSeries(e.getKey(), x, y).setMarker(x.length > 50 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
                }
                Path png = dir.resolve(key.replaceAll("[^A-Za-z0-9_.-]", "_") + ".png");
                BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
                written.add(png);
            }
        } catch (IOException e) {
            throw new TesseraException("cannot write charts to " + dir + ": " + e.getMessage(), e);
        }
        return written;
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new TesseraException("cannot close metrics file " + file + ": " + e.getMessage(), e);
        }
    }
}
