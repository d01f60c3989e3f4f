package ch.randelshofer.fastdoubleparser;

import java.math.BigDecimal;

/**
 * Stand-in for the one FastDoubleParser entry point event-ruler calls, so that the oracle
 * builds from Debian's packages alone. FastDoubleParser is a faster parser with the same
 * result: the exact decimal value of the text. The texts handed to it here are JSON number
 * tokens that Jackson has already checked, which BigDecimal's constructor reads exactly.
 */
public final class JavaBigDecimalParser {
    private JavaBigDecimalParser() {}

    /** The exact value of a decimal number; NumberFormatException when it is not one. */
    public static BigDecimal parseBigDecimal(CharSequence text) {
        return new BigDecimal(text.toString());
    }
}
