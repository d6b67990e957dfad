// Renders a FreeMarker template against many data models in one JVM run (test harness).
//
// Usage: java -cp freemarker.jar:. RenderTemplate TEMPLATE MODELS_JSON OUT_DIR [WRAPPER]
//
// WRAPPER selects the object wrapper the Configuration uses: "default" (DefaultObjectWrapper,
// FreeMarker's default, the default here too) or "beans" (BeansWrapper, which exposes Maps
// and other Java objects as beans: a hash's ?keys then lists methods such as getClass, as a
// server built on BeansWrapper would).
//
// MODELS_JSON holds a JSON array; item i is one data model (a JSON object whose keys become
// the template's top-level names, e.g. {"reports": [...]}). For each item the harness writes
// OUT_DIR/out-i.txt (the rendered output, UTF-8) or OUT_DIR/err-i.txt (the exception class
// and message when rendering failed).
//
// The JSON reader below is deliberately minimal and builds the types a Java server's data
// model would hold: String, Long (BigInteger beyond long range) for integers, BigDecimal for
// numbers with a fraction or exponent, Boolean, null, ArrayList and LinkedHashMap (key order
// kept). The Configuration sets no number_format or boolean_format: the template must be
// correct under FreeMarker's defaults (e.g. "1,234,567" for a bare ${number}).

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
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class RenderTemplate {
    private final String text;
    private int pos;

    private RenderTemplate(String text) {
        this.text = text;
    }

    public static void main(String[] args) throws Exception {
        String source = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        String json = new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.UTF_8);
        Path out = Paths.get(args[2]);
        Configuration cfg = new Configuration(Configuration.VERSION_2_3_31);
        cfg.setDefaultEncoding("UTF-8");
        cfg.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
        cfg.setLogTemplateExceptions(false);
        String setup = args.length > 3 ? args[3] : "default";
        String wrapper = setup;
        if (setup.endsWith("+classic")) {
            wrapper = setup.substring(0, setup.length() - "+classic".length());
            cfg.setClassicCompatible(true);
            cfg.setNumberFormat("computer");
        }
        if (wrapper.equals("beans")) {
            cfg.setObjectWrapper(new BeansWrapperBuilder(Configuration.VERSION_2_3_31).build());
        } else if (wrapper.equals("default")) {
            cfg.setObjectWrapper(new DefaultObjectWrapperBuilder(Configuration.VERSION_2_3_31).build());
        } else {
            throw new IllegalArgumentException("unknown wrapper " + wrapper);
        }
        Template template = new Template("export_json.ftl", new StringReader(source), cfg);
        RenderTemplate reader = new RenderTemplate(json);
        Object parsed = reader.document();
        List<?> models = (List<?>) parsed;
        for (int i = 0; i < models.size(); i++) {
            Path target = out.resolve("out-" + i + ".txt");
            try (Writer writer = new OutputStreamWriter(Files.newOutputStream(target), StandardCharsets.UTF_8)) {
                template.process(models.get(i), writer);
            } catch (Exception e) {
                Files.deleteIfExists(target);
                String message = e.getClass().getName() + ": " + String.valueOf(e.getMessage()).split("\n", 2)[0];
                Files.write(out.resolve("err-" + i + ".txt"), message.getBytes(StandardCharsets.UTF_8));
            }
        }
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
