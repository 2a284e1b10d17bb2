package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.EmbeddedContainer.Kind;
import dev.idempotency.memory.MemoryStore;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Servlet non-blocking I/O behind the filter, over real HTTP in Tomcat 11 and Jetty 12: each
 * case answers as it does without the filter.
 */
class NonBlockingIoHttpTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();
  private static final byte[] DATA = "abcdefghij".repeat(100).getBytes(StandardCharsets.UTF_8);

  private final AtomicInteger runs = new AtomicInteger();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private EmbeddedContainer container;

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
  }

  /**
   * Writes while {@code isReady()}, at once in the dispatch (as Spring WebFlux's servlet adapter
   * does), with a declared length; completes from {@code onWritePossible}
   * ({@code ?complete=listener}) or right after its last write ({@code ?complete=eager}).
   */
  private final HttpServlet writer = new HttpServlet() {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      runs.incrementAndGet();
      boolean eager = "eager".equals(req.getParameter("complete"));
      AsyncContext async = req.startAsync();
      resp.setContentType("application/octet-stream");
      resp.setContentLength(DATA.length);
      ServletOutputStream out = resp.getOutputStream();
      boolean[] written = {false};
      boolean[] completed = {false};
      out.setWriteListener(new WriteListener() {
        @Override
        public void onWritePossible() throws IOException {
          if (!out.isReady()) {
            return;
          }
          if (!written[0]) {
            written[0] = true;
            out.write(DATA);
            if (!out.isReady()) {
              return;
            }
          }
          if (!completed[0]) {
            completed[0] = true;
            async.complete();
          }
        }

        @Override
        public void onError(Throwable t) {
          async.complete();
        }
      });
      if (out.isReady()) {
        written[0] = true;
        out.write(DATA);
        if (eager) {
          completed[0] = true;
          async.complete();
        }
      }
    }
  };

  /** Refuses a body that is not JSON by throwing from onDataAvailable; onError answers 400. */
  private final HttpServlet refusingReader = new HttpServlet() {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      AsyncContext async = req.startAsync();
      ServletInputStream in = req.getInputStream();
      in.setReadListener(new ReadListener() {
        @Override
        public void onDataAvailable() throws IOException {
          byte[] buf = new byte[4096];
          while (in.isReady() && in.read(buf) != -1) {
            if (buf[0] != '{') {
              throw new IllegalArgumentException("not JSON");
            }
          }
        }

        @Override
        public void onAllDataRead() throws IOException {
          resp.getWriter().write("ok");
          async.complete();
        }

        @Override
        public void onError(Throwable t) {
          resp.setStatus(400);
          try {
            resp.getWriter().write("refused: " + t.getMessage());
          } catch (IOException e) {
            // the client went away
          }
          async.complete();
        }
      });
    }
  };

  /** The Java EE 7 tutorial's loop: read, then again while isReady() (false once all is read). */
  private final HttpServlet tutorialReader = new HttpServlet() {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      AsyncContext async = req.startAsync();
      ServletInputStream in = req.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      in.setReadListener(new ReadListener() {
        @Override
        public void onDataAvailable() throws IOException {
          events.add("onDataAvailable");
          byte[] buf = new byte[4096];
          do {
            int n = in.read(buf);
            got.write(buf, 0, n);
          } while (in.isReady());
        }

        @Override
        public void onAllDataRead() throws IOException {
          resp.getWriter().write("got " + got.size());
          async.complete();
        }

        @Override
        public void onError(Throwable t) {
          resp.setStatus(500);
          async.complete();
        }
      });
      events.add("setReadListener returned");
    }
  };

  private void start(Kind kind) throws Exception {
    container = EmbeddedContainer.start(kind,
        IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().servlet("/write", writer)
            .servlet("/read-refusing", refusingReader).servlet("/read-tutorial", tutorialReader));
  }

  private HttpResponse<byte[]> post(String path, String key, byte[] body) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + container.port() + path))
        .timeout(Duration.ofSeconds(10))
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/octet-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  // Jetty refuses a non-blocking write that no isReady() allowed: the held last byte was one,
  // and every attempt was a 500 that ran the handler again.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aNonBlockingWriterIsAnsweredWholeAndReplayed(Kind kind) throws Exception {
    start(kind);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = post("/write?complete=listener", key, new byte[] {'x'});
    HttpResponse<byte[]> replay = post("/write?complete=listener", key, new byte[] {'x'});
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo(DATA);
    assertThat(replay.statusCode()).isEqualTo(200);
    assertThat(replay.body()).isEqualTo(DATA);
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(runs).hasValue(1);
  }

  // Jetty: the client got a 500 while the store kept the 200 its retries were replayed.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aNonBlockingWriterThatCompletesAfterItsLastWriteGetsWhatIsStored(Kind kind)
      throws Exception {
    start(kind);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = post("/write?complete=eager", key, new byte[] {'x'});
    HttpResponse<byte[]> replay = post("/write?complete=eager", key, new byte[] {'x'});
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(replay.statusCode()).isEqualTo(200);
    assertThat(replay.body()).isEqualTo(first.body()).isEqualTo(DATA);
  }

  // Without the filter the container hands the exception to onError; with it the client hung.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void anExceptionFromAReadListenerReachesItsOnError(Kind kind) throws Exception {
    start(kind);
    HttpResponse<byte[]> r = post("/read-refusing", UUID.randomUUID().toString(),
        "not json".getBytes(StandardCharsets.UTF_8));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("refused: not JSON");
  }

  // isReady() is false once the body is read, and the listener is called after the dispatch
  // that set it, as the containers do: the tutorial's loop read -1 and the client got nothing.
  @ParameterizedTest
  @EnumSource(Kind.class)
  void aReaderThatLoopsWhileReadyGetsTheWholeBodyAfterItsDispatch(Kind kind) throws Exception {
    start(kind);
    HttpResponse<byte[]> r = post("/read-tutorial", UUID.randomUUID().toString(),
        new byte[20_000]);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("got 20000");
    assertThat(events.get(0)).isEqualTo("setReadListener returned");
  }
}
