package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.EmbeddedContainer.Kind;
import dev.idempotency.memory.MemoryStore;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Replays through real Tomcat 11 and Jetty 12 ee10, over real HTTP. */
class TomcatAndJettyReplayTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private final AtomicInteger runs = new AtomicInteger();
  private EmbeddedContainer container;

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
  }

  private HttpResponse<byte[]> post(String key, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + container.port() + "/r"))
        .timeout(Duration.ofSeconds(30))
        .header("Idempotency-Key", key)
        .header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString("x"));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** The body as the client decodes it: by the Content-Encoding the response declares. */
  private static String decoded(HttpResponse<byte[]> response) throws IOException {
    byte[] bytes = response.body();
    if (response.headers().firstValue("Content-Encoding").orElse("").equals("gzip")) {
      bytes = new GZIPInputStream(new ByteArrayInputStream(bytes)).readAllBytes();
    }
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  // SPEC §5 replay "same status, headers and body bytes". With the container compressing
  // (Tomcat compression="on", Jetty's GzipHandler) a response big enough to commit before the
  // filter stores it was stored with the container's Content-Encoding: gzip over plain bytes.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aCompressedResponseIsReplayedDecodable(Kind kind) throws Exception {
    StringBuilder text = new StringBuilder();
    while (text.length() < 100_000) {
      text.append("line ").append(text.length()).append('\n');
    }
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().compression().servlet("/*", new HttpServlet() {
          @Override
          protected void service(HttpServletRequest q, HttpServletResponse r) throws IOException {
            runs.incrementAndGet();
            q.getInputStream().readAllBytes();
            r.setStatus(201);
            r.setContentType("text/plain");
            r.getWriter().write(text.toString());
          }
        }));
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = post(key, "Accept-Encoding", "gzip");
    HttpResponse<byte[]> replay = post(key, "Accept-Encoding", "gzip");
    assertThat(first.headers().firstValue("Content-Encoding")).contains("gzip");
    assertThat(decoded(first)).isEqualTo(text.toString());
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(runs).hasValue(1);
    assertThat(decoded(replay)).isEqualTo(text.toString());
  }

  // SPEC §6: a response the client cannot have had whole is released, as if the handler threw.
  // A download servlet that stops writing when the client goes away (it catches the container's
  // ClientAbortException/EofException) had its first 64 KiB stored as a complete 200, which every
  // retry then got with a matching Content-Length.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aClientThatWentAwayMidResponseLeavesNoTruncatedReplay(Kind kind) throws Exception {
    int total = 4 * 1024 * 1024;
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch clientGone = new CountDownLatch(1);
    CountDownLatch handlerDone = new CountDownLatch(1);
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(new MemoryStore())
            .maxResponseBytes(8L * 1024 * 1024).build(),
        new EmbeddedContainer.App().servlet("/*", new HttpServlet() {
          @Override
          protected void service(HttpServletRequest q, HttpServletResponse r) throws IOException {
            int run = runs.incrementAndGet();
            q.getInputStream().readAllBytes();
            r.setContentType("application/octet-stream");
            r.setContentLength(total);
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) 'x');
            try {
              if (run == 1) {
                entered.countDown();
                clientGone.await(10, TimeUnit.SECONDS);
              }
              OutputStream out = r.getOutputStream();
              for (int sent = 0; sent < total; sent += chunk.length) {
                out.write(chunk);
              }
            } catch (IOException e) {
              // the client went away: nothing more to send (a common download-servlet idiom)
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            } finally {
              handlerDone.countDown();
            }
          }
        }));
    String key = UUID.randomUUID().toString();
    try (Socket socket = new Socket("127.0.0.1", container.port())) {
      socket.getOutputStream().write(EmbeddedContainer.post("/r", key, "text/plain", "x")
          .getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
      socket.setSoLinger(true, 0); // the client gives up: RST
    }
    clientGone.countDown();
    assertThat(handlerDone.await(10, TimeUnit.SECONDS)).isTrue();

    // 409 until the filter has released the key, right after the handler returned.
    HttpResponse<byte[]>[] retry = new HttpResponse[1];
    await().atMost(Duration.ofSeconds(10)).until(() -> (retry[0] = post(key)).statusCode() != 409);
    assertThat(retry[0].statusCode()).isEqualTo(200);
    assertThat(retry[0].headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(retry[0].body()).hasSize(total);
    assertThat(runs).hasValue(2);
  }

  // A handler that declares more than it writes sends a broken response: nothing to replay.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aBodyShorterThanItsDeclaredLengthIsNotStored(Kind kind) throws Exception {
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().servlet("/*", new HttpServlet() {
          @Override
          protected void service(HttpServletRequest q, HttpServletResponse r) throws IOException {
            int run = runs.incrementAndGet();
            q.getInputStream().readAllBytes();
            r.setContentType("text/plain");
            if (run == 1) {
              r.setContentLength(100);
              r.getOutputStream().write("only fifty bytes of the hundred declared, then done "
                  .substring(0, 50).getBytes(StandardCharsets.ISO_8859_1));
            } else {
              r.getOutputStream().write("whole".getBytes(StandardCharsets.ISO_8859_1));
            }
          }
        }));
    String key = UUID.randomUUID().toString();
    // What the client gets is broken: Tomcat sends 50 of the 100 bytes and never the rest, Jetty
    // (the response not yet committed) answers 500 "Insufficient content written".
    assertThat(container.raw(EmbeddedContainer.post("/r", key, "text/plain", "x"), 500))
        .doesNotContain("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    HttpResponse<byte[]>[] retry = new HttpResponse[1];
    await().atMost(Duration.ofSeconds(10)).until(() -> (retry[0] = post(key)).statusCode() != 409);
    assertThat(new String(retry[0].body(), StandardCharsets.ISO_8859_1)).isEqualTo("whole");
    assertThat(runs).hasValue(2);
  }

  // SPEC §5 "same headers": Tomcat keeps setLocale's Content-Language out of getHeaderNames()
  // until it commits the response, so a response stored before commit lost it.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void contentLanguageFromSetLocaleIsReplayed(Kind kind) throws Exception {
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().servlet("/*", new HttpServlet() {
          @Override
          protected void service(HttpServletRequest q, HttpServletResponse r) throws IOException {
            runs.incrementAndGet();
            q.getInputStream().readAllBytes();
            r.setLocale(Locale.FRANCE);
            r.setContentType("text/plain");
            r.getWriter().write("bonjour");
          }
        }));
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = post(key);
    HttpResponse<byte[]> replay = post(key);
    assertThat(first.headers().firstValue("Content-Language")).contains("fr-FR");
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(runs).hasValue(1);
    assertThat(replay.headers().firstValue("Content-Language")).contains("fr-FR");
  }
}
