// Renders a FreeMarker template against many data models in one JVM run (test harness).
//
// Usage: java -cp freemarker.jar:. RenderTemplate TEMPLATE MODELS_JSON OUT_DIR [WRAPPER]
//        (compiled with the emulator's FreeMarkerRender.java on the source path)
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
// The data models are read by the emulator's own reader, FreeMarkerRender.parseJson
// (src/expensify_client/emulator/FreeMarkerRender.java, compiled together with this file),
// which builds the types a Java server's data model would hold: String, Long (BigInteger
// beyond long range), BigDecimal, Boolean, null, ArrayList and LinkedHashMap (key order
// kept). The Configuration is this harness's own: it sets no number_format or
// boolean_format, so the template must be correct under FreeMarker's defaults (e.g.
// "1,234,567" for a bare ${number}); "+classic" adds classic_compatible and
// number_format "computer", as the emulator's live-like engine does.

import freemarker.ext.beans.BeansWrapperBuilder;
import freemarker.template.Configuration;
import freemarker.template.DefaultObjectWrapperBuilder;
import freemarker.template.Template;
import freemarker.template.TemplateExceptionHandler;
import java.io.OutputStreamWriter;
import java.io.StringReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

public final class RenderTemplate {
    private RenderTemplate() {
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
        List<?> models = (List<?>) FreeMarkerRender.parseJson(json);
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
}
