package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.EmbeddedContainer.Kind;
import dev.idempotency.memory.MemoryStore;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC §5 replay "same status, headers and body". reset() clears the locale with the headers:
 * a capture that remembered setLocale past it replayed a Content-Language (the JVM's default
 * locale on Tomcat) the first response never had.
 */
class ResetAfterSetLocaleTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();
  private EmbeddedContainer container;

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
  }

  private HttpResponse<String> post(String key) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + container.port() + "/r"))
        .timeout(Duration.ofSeconds(30)).header("Idempotency-Key", key)
        .header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aResetDropsTheLocaleFromTheReplayToo(Kind kind) throws Exception {
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().servlet("/*", new HttpServlet() {
          @Override
          protected void service(HttpServletRequest q, HttpServletResponse r) throws IOException {
            q.getInputStream().readAllBytes();
            r.setLocale(Locale.FRANCE);
            r.setContentType("text/html");
            r.getWriter().write("<p>bonjour");
            // something went wrong: start over with a plain error
            r.reset();
            r.setStatus(422);
            r.setContentType("application/json");
            r.getWriter().write("{\"error\":\"invalid\"}");
          }
        }));
    String key = UUID.randomUUID().toString();
    HttpResponse<String> first = post(key);
    HttpResponse<String> replay = post(key);
    assertThat(first.statusCode()).isEqualTo(422);
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(replay.headers().firstValue("Content-Language"))
        .isEqualTo(first.headers().firstValue("Content-Language"));
  }
}
