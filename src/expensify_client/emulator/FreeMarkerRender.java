// The Expensify emulator's FreeMarker renderer (part of expensify_client.emulator).
//
// Usage: java -cp freemarker.jar:<classes> FreeMarkerRender TEMPLATE MODEL_JSON WRAPPER [MODE
//        [NUMBER_FORMAT]]
//
// Renders TEMPLATE (UTF-8 FreeMarker source) against the data model in MODEL_JSON (one JSON
// object whose keys become the template's top-level names, e.g. {"reports": [...],
// "addHeader": true}) and writes the output, UTF-8, to standard output. WRAPPER is
// "default" (DefaultObjectWrapper) or "beans" (BeansWrapper); MODE "classic" turns on
// classic_compatible (else "strict", the default); NUMBER_FORMAT sets number_format (e.g.
// "computer"; empty: FreeMarker's default). On a template error the
// exit status is 3 and standard error holds the exception class and message.
//
// The JSON reader (parseJson) builds the types a Java server's data model holds: String,
// Long (BigInteger beyond long range) for integers, BigDecimal for numbers with a fraction
// or exponent, Boolean, null, ArrayList and LinkedHashMap (key order kept). The test suite's
// batch harness (tests/expensify_client/freemarker/RenderTemplate.java) is compiled against
// this file and reads its data models with the same reader.

import freemarker.ext.beans.BeansWrapperBuilder;
import freemarker.template.Configuration;
import freemarker.template.DefaultObjectWrapperBuilder;
import freemarker.template.Template;
import freemarker.template.TemplateExceptionHandler;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.StringReader;
import java.io.Writer;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class FreeMarkerRender {
    private final String text;
    private int pos;

    private FreeMarkerRender(String text) {
        this.text = text;
    }

    public static void main(String[] args) throws Exception {
        String source = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        String json = new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.UTF_8);
        Configuration cfg = new Configuration(Configuration.VERSION_2_3_31);
        cfg.setDefaultEncoding("UTF-8");
        cfg.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
        cfg.setLogTemplateExceptions(false);
        // "classic": FreeMarker 1.x-compatible leniency (a missing value prints as empty and
        // counts as "" in expressions) instead of an error.
        cfg.setClassicCompatible(args.length > 3 && "classic".equals(args[3]));
        if (args.length > 4 && !args[4].isEmpty()) {
            cfg.setNumberFormat(args[4]);
        }
        if ("beans".equals(args[2])) {
            cfg.setObjectWrapper(new BeansWrapperBuilder(Configuration.VERSION_2_3_31).build());
        } else {
            cfg.setObjectWrapper(new DefaultObjectWrapperBuilder(Configuration.VERSION_2_3_31).build());
        }
        Object model = parseJson(json);
        Writer writer = new OutputStreamWriter(System.out, StandardCharsets.UTF_8);
        try {
            Template template = new Template("template.ftl", new StringReader(source), cfg);
            template.process(model, writer);
            writer.flush();
        } catch (Exception e) {
            writer.flush();
            System.err.print(e.getClass().getName() + ": " + String.valueOf(e.getMessage()));
            System.err.flush();
            System.exit(3);
        }
    }

    /** The data model in JSON {@code text}, as the types listed in the header. */
    public static Object parseJson(String text) throws IOException {
        return new FreeMarkerRender(text).document();
    }

    private Object document() throws IOException {
        Object value = value();
        skipWhitespace();
        if (pos != text.length()) {
            throw error("trailing data");
        }
        return value;
    }

    private IOException error(String what) {
        return new IOException(what + " at offset " + pos);
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value() throws IOException {
        skipWhitespace();
        if (pos >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Object literal(String word, Object result) throws IOException {
        if (!text.startsWith(word, pos)) {
            throw error("bad literal");
        }
        pos += word.length();
        return result;
    }

    private Map<String, Object> object() throws IOException {
        Map<String, Object> map = new LinkedHashMap<>();
        pos++;
        skipWhitespace();
        if (text.charAt(pos) == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipWhitespace();
            String key = string();
            skipWhitespace();
            if (text.charAt(pos++) != ':') {
                throw error("expected ':'");
            }
            map.put(key, value());
            skipWhitespace();
            char c = text.charAt(pos++);
            if (c == '}') {
                return map;
            }
            if (c != ',') {
                throw error("expected ',' or '}'");
            }
        }
    }

    private List<Object> array() throws IOException {
        List<Object> list = new ArrayList<>();
        pos++;
        skipWhitespace();
        if (text.charAt(pos) == ']') {
            pos++;
            return list;
        }
        while (true) {
            list.add(value());
            skipWhitespace();
            char c = text.charAt(pos++);
            if (c == ']') {
                return list;
            }
            if (c != ',') {
                throw error("expected ',' or ']'");
            }
        }
    }

    private String string() throws IOException {
        if (text.charAt(pos) != '"') {
            throw error("expected string");
        }
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                    break;
                default:
                    throw error("bad escape");
            }
        }
    }

    private Object number() throws IOException {
        int start = pos;
        while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
        String literal = text.substring(start, pos);
        if (literal.isEmpty()) {
            throw error("unexpected character");
        }
        if (literal.indexOf('.') >= 0 || literal.indexOf('e') >= 0 || literal.indexOf('E') >= 0) {
            return new BigDecimal(literal);
        }
        BigInteger big = new BigInteger(literal);
        if (big.bitLength() < 64) {
            return big.longValue();
        }
        return big;
    }
}
