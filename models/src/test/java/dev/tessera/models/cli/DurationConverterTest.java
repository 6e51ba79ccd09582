package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class DurationConverterTest {
    @Test
    void readsSecondsMinutesHoursAndTheirCombinations() {
        assertEquals(Duration.ofSeconds(300), DurationConverter.parse("300"));
        assertEquals(Duration.ofSeconds(300), DurationConverter.parse("300s"));
        assertEquals(Duration.ofMinutes(5), DurationConverter.parse("5m"));
        assertEquals(Duration.ofMinutes(90), DurationConverter.parse("1.5h"));
        assertEquals(Duration.ofMinutes(90), DurationConverter.parse("1h30m"));
        assertEquals(Duration.ofSeconds(150), DurationConverter.parse("2m30s"));
        assertEquals(Duration.ofMillis(2500), DurationConverter.parse(" 2.5S "));
    }

    @Test
    void refusesWhatIsNotAPositiveDuration() {
        for (String bad : new String[] {"", "5x", "m", "5m5h", "-5m", "1e3", "5 m", "0", "0s", "0h0m"}) {
            CommandLine.TypeConversionException e = assertThrows(CommandLine.TypeConversionException.class, () -> DurationConverter.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }
}
