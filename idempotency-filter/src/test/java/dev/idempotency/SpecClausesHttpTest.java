package dev.idempotency;

import static dev.idempotency.IdempotencyFilterHttpContract.post;
import static dev.idempotency.IdempotencyFilterHttpContract.send;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.idempotency.IdempotencyConfig.KeyMode;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.IdempotencyStore;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.Principal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** SPEC sentences no other test would catch breaking, one test each, over real HTTP. */
class SpecClausesHttpTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final TestApp app = new TestApp();
  private JettyServer server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  // §1: POST and PATCH are covered by default.
  @Test
  void patchIsCoveredByDefault() throws Exception {
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore()).build(), app);
    String key = UUID.randomUUID().toString();
    for (int i = 0; i < 2; i++) {
      send(HttpRequest.newBuilder(server.uri("/echo")).header("Idempotency-Key", key)
          .method("PATCH", HttpRequest.BodyPublishers.ofString("{}")));
    }
    assertThat(app.executions).hasValue(1);
  }

  // §2.1: the key header's name is a setting.
  @Test
  void theConfiguredHeaderIsTheKey() throws Exception {
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore())
        .header("X-Request-Key").keyMode(KeyMode.KEY_ONLY).build(), app);
    String key = UUID.randomUUID().toString();
    for (int i = 0; i < 2; i++) {
      send(post(server.uri("/echo"), null, "{}").header("X-Request-Key", key));
    }
    send(post(server.uri("/echo"), key, "{}")); // Idempotency-Key is no key now
    assertThat(app.executions).hasValue(2);
  }

  // §2.1: an empty key, or one with a control character, is a 400.
  @Test
  void anEmptyOrControlCharacterKeyIs400() throws Exception {
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore()).build(), app);
    assertThat(send(post(server.uri("/echo"), "", "{}")).statusCode()).isEqualTo(400);
    assertThat(send(post(server.uri("/echo"), "a\tb", "{}")).statusCode()).isEqualTo(400);
    assertThat(app.executions).hasValue(0);
  }

  // §2.3: the principal scopes a key, before Authorization.
  @Test
  void thePrincipalScopesKeysBeforeAuthorization() throws Exception {
    Filter login = (req, res, chain) -> {
      HttpServletRequest r = (HttpServletRequest) req;
      String user = r.getHeader("X-User");
      chain.doFilter(user == null ? req : new HttpServletRequestWrapper(r) {
        @Override
        public Principal getUserPrincipal() {
          return () -> user;
        }
      }, res);
    };
    server = JettyServer.start(login, IdempotencyFilter.builder(new MemoryStore()).build(), app);
    String key = UUID.randomUUID().toString();
    send(post(server.uri("/echo"), key, "{}").header("X-User", "alice")
        .header("Authorization", "Bearer a1"));
    send(post(server.uri("/echo"), key, "{}").header("X-User", "bob")
        .header("Authorization", "Bearer a1"));
    HttpResponse<byte[]> again = send(post(server.uri("/echo"), key, "{}")
        .header("X-User", "alice").header("Authorization", "Bearer a2"));
    assertThat(app.executions).as("alice and bob").hasValue(2);
    assertThat(again.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
  }

  // §5: same-JVM waiters are woken at once by the owner's completion. Here the store never
  // notifies (its watch never completes), so nothing but that wake can end their 60 s wait.
  @Test
  void sameJvmWaitersAreWokenByTheOwnerNotByTheStore() throws Exception {
    IdempotencyStore silent = new ForwardingStore(new MemoryStore()) {
      @Override
      public CompletableFuture<Void> watch(String key) {
        return new CompletableFuture<>();
      }
    };
    IdempotencyFilter filter = IdempotencyFilter.builder(silent)
        .inFlight(IdempotencyConfig.InFlightMode.WAIT).waitTimeout(Duration.ofSeconds(60))
        .build();
    server = JettyServer.start(filter, app);
    String key = UUID.randomUUID().toString();
    CompletableFuture<HttpResponse<byte[]>> first = IdempotencyFilterHttpContract.CLIENT
        .sendAsync(post(server.uri("/echo?hold=1"), key, "{}").build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<HttpResponse<byte[]>>> waiters = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      waiters.add(IdempotencyFilterHttpContract.CLIENT.sendAsync(
          post(server.uri("/echo?hold=1"), key, "{}").build(),
          HttpResponse.BodyHandlers.ofByteArray()));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> filter.localWaiters() == 3);
    app.gate.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    for (CompletableFuture<HttpResponse<byte[]>> waiter : waiters) {
      HttpResponse<byte[]> replay = waiter.get(10, TimeUnit.SECONDS);
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    }
    assertThat(app.executions).hasValue(1);
  }

  // §6: hop-by-hop headers are not replayed; the others are.
  @Test
  void hopByHopHeadersAreNotReplayed() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    HttpServlet servlet = new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp)
          throws IOException {
        runs.incrementAndGet();
        resp.setHeader("Keep-Alive", "timeout=5");
        resp.setHeader("Proxy-Authenticate", "Basic");
        resp.setHeader("X-Kept", "1");
        resp.getOutputStream().write('x');
      }
    };
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore()).build(), servlet);
    String key = UUID.randomUUID().toString();
    send(post(server.uri("/x"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(server.uri("/x"), key, "{}"));
    assertThat(runs).hasValue(1);
    assertThat(replay.headers().firstValue("X-Kept")).contains("1");
    assertThat(replay.headers().firstValue("Keep-Alive")).isEmpty();
    assertThat(replay.headers().firstValue("Proxy-Authenticate")).isEmpty();
  }

  // §7: every problem has a type, a title, its status and a detail.
  @Test
  void problemsCarryTypeTitleStatusAndDetail() throws Exception {
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore())
        .keyMode(KeyMode.REQUIRED).maxRequestBytes(64).build(), app);
    String key = UUID.randomUUID().toString();
    send(post(server.uri("/echo"), key, "{\"a\":1}"));
    assertProblem(send(post(server.uri("/echo"), "a\tb", "{}")), 400, "invalid-key");
    assertProblem(send(post(server.uri("/echo"), null, "{}")), 400, "key-required");
    assertProblem(send(post(server.uri("/echo"), key, "{\"a\":2}")), 422, "payload-mismatch");
    assertProblem(send(post(server.uri("/echo"), UUID.randomUUID().toString(),
        "{\"a\":\"" + "x".repeat(100) + "\"}")), 413, "too-large");
  }

  private static void assertProblem(HttpResponse<byte[]> r, int status, String type)
      throws IOException {
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).contains("application/problem+json");
    JsonNode problem = JSON.readTree(r.body());
    assertThat(problem.get("type").asText()).isEqualTo(Problem.TYPE_PREFIX + type);
    assertThat(problem.get("title").asText()).isNotBlank();
    assertThat(problem.get("status").asInt()).isEqualTo(status);
    assertThat(problem.get("detail").asText()).isNotBlank();
  }
}
