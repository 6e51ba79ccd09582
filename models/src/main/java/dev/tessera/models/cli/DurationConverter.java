package dev.tessera.models.cli;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads a duration as people write it on a command line: {@code 300} or {@code 300s}, {@code 5m}, {@code 1.5h},
 * {@code 1h30m}, {@code 2m30s} (hours, minutes and seconds in that order, each at most once; a bare number is
 * seconds). Anything else, or a zero duration, is refused naming the value.
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern FORM = Pattern.compile("(?:(\\d+(?:\\.\\d+)?)h)?(?:(\\d+(?:\\.\\d+)?)m)?(?:(\\d+(?:\\.\\d+)?)s?)?");

    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    static Duration parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Matcher m = FORM.matcher(v);
        if (v.isEmpty() || !m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (for example 300s, 5m, 1h30m)");
        }
        double seconds = part(m.group(1)) * 3600 + part(m.group(2)) * 60 + part(m.group(3));
        if (!(seconds > 0)) throw new CommandLine.TypeConversionException("'" + value + "' is not a positive duration");
        return Duration.ofNanos(Math.round(seconds * 1e9));
    }

    /** A duration option in seconds, 0 when it was not given. */
    static double seconds(Duration d) { return d == null ? 0 : d.toNanos() / 1e9; }

    private static double part(String digits) { return digits == null ? 0 : Double.parseDouble(digits); }
}
