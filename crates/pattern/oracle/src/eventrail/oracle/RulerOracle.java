package eventrail.oracle;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;

import software.amazon.event.ruler.JsonRuleCompiler;
import software.amazon.event.ruler.Machine;

/**
 * Labels event-pattern cases with event-ruler's verdict.
 *
 * Input (stdin), one case per line, three tab-separated fields: a case name, the pattern's
 * JSON text and the event's JSON text (compact JSON never holds a raw tab). Output (stdout),
 * one JSONL corpus line per case: {"name", "expect", "ruler_error" (only when invalid),
 * "pattern", "event"}, the pattern and the
 * event copied byte for byte, so that a number's exact text is what both engines see.
 *
 * expect is "invalid" when Ruler's rule compiler refuses the pattern (JsonRuleCompiler.check,
 * then Machine.addRule), otherwise "match" or "no_match" from a fresh Machine holding only
 * this rule, asked with rulesForJSONEvent (the array-consistent matcher). A case where
 * matching itself throws is not labelled: it is counted on stderr and left out.
 */
public final class RulerOracle {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private RulerOracle() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        int labelled = 0;
        int unlabelled = 0;
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] fields = line.split("\t", -1);
            if (fields.length != 3) {
                throw new IllegalArgumentException("expected name<TAB>pattern<TAB>event, got: " + line);
            }
            String name = fields[0];
            String pattern = fields[1];
            String event = fields[2];
            String[] expect;
            try {
                expect = verdict(pattern, event);
            } catch (Exception | StackOverflowError e) {
                unlabelled++;
                System.err.println("not labelled: " + name + ": " + e);
                continue;
            }
            labelled++;
            String reason = expect[1] == null ? "" : ",\"ruler_error\":" + MAPPER.writeValueAsString(expect[1]);
            out.write("{\"name\":\"" + name + "\",\"expect\":\"" + expect[0] + "\"" + reason + ",\"pattern\":"
                    + pattern + ",\"event\":" + event + "}\n");
        }
        out.flush();
        System.err.println("ruler oracle: " + labelled + " labelled, " + unlabelled + " not labelled");
    }

    /** {label, Ruler's error message when the pattern is invalid}. */
    private static String[] verdict(String pattern, String event) throws Exception {
        String error = JsonRuleCompiler.check(pattern);
        if (error != null) {
            return new String[] {"invalid", error};
        }
        Machine machine = new Machine();
        try {
            machine.addRule("rule", pattern);
        } catch (Exception e) {
            return new String[] {"invalid", e.toString()};
        }
        List<String> matched = machine.rulesForJSONEvent(event);
        return new String[] {matched.isEmpty() ? "no_match" : "match", null};
    }
}
