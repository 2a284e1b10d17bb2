package dev.idempotency;

import static dev.idempotency.IdempotencyFilterHttpContract.post;
import static dev.idempotency.IdempotencyFilterHttpContract.send;
import static dev.idempotency.IdempotencyFilterHttpContract.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.StoreStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** SPEC §10: meters, the operator endpoint, and running without Micrometer. */
class ObservabilityTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final TestApp app = new TestApp();
  private Server server;
  private int port;

  @AfterEach
  void stop() throws Exception {
    app.gate.countDown();
    if (server != null) {
      server.stop();
    }
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private void start(Filter filter, IdempotencyAdminServlet admin) throws Exception {
    server = new Server(new InetSocketAddress("127.0.0.1", 0));
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    FilterHolder holder = new FilterHolder(filter);
    holder.setAsyncSupported(true);
    holder.setInitParameter("store", "memory");
    context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST));
    if (admin != null) {
      context.addServlet(new ServletHolder(admin), "/idempotency/*");
    }
    ServletHolder appHolder = new ServletHolder(app);
    appHolder.setAsyncSupported(true);
    context.addServlet(appHolder, "/*");
    server.setHandler(context);
    server.start();
    port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }

  @Test
  void countersFollowAKnownSequenceOfRequests() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    start(IdempotencyFilter.builder(new MemoryStore())
        .listener(new MicrometerListener(registry)).build(), null);
    String key = UUID.randomUUID().toString();
    send(post(uri("/echo"), key, "{\"a\":1}"));           // executed
    send(post(uri("/echo"), key, "{\"a\":1}"));           // replayed
    send(post(uri("/echo"), key, "{\"a\":1}"));           // replayed
    send(post(uri("/echo"), key, "{\"a\":2}"));           // mismatch
    send(post(uri("/echo"), "", "{}"));                    // invalid
    send(HttpRequest.newBuilder(uri("/echo")).header("Idempotency-Key", "x")
        .PUT(HttpRequest.BodyPublishers.ofString("{}"))); // not covered: not counted
    CompletableFuture<HttpResponse<byte[]>> held = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(uri("/echo?hold=1"), "held", "{}").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(registry.get("idempotency.inflight").gauge().value()).isEqualTo(1.0);
    send(post(uri("/echo?hold=1"), "held", "{}"));         // conflict
    app.gate.countDown();
    held.get(10, TimeUnit.SECONDS);                         // executed

    assertThat(count(registry, "executed")).isEqualTo(2);
    assertThat(count(registry, "replayed")).isEqualTo(2);
    assertThat(count(registry, "mismatch")).isEqualTo(1);
    assertThat(count(registry, "invalid")).isEqualTo(1);
    assertThat(count(registry, "conflict")).isEqualTo(1);
    assertThat(count(registry, "bypassed")).isZero();
    assertThat(registry.get("idempotency.inflight").gauge().value()).isZero();
    assertThat(registry.get("idempotency.store").tags("store", "memory", "op", "acquire")
        .timer().count()).isEqualTo(6);
    assertThat(registry.get("idempotency.store").tags("store", "memory", "op", "complete")
        .timer().count()).isEqualTo(2);
  }

  @Test
  void fallbackCounterReadsTheStatusOfTheFiltersStoreAndKeepsItAfterDestroy() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicLong fallbacks = new AtomicLong();
    ForwardingStore store = new ForwardingStore(new MemoryStore()) {
      @Override
      public StoreStatus status() {
        return new StoreStatus("jdbc", StoreStatus.Breaker.OPEN, fallbacks.get());
      }
    };
    IdempotencyFilter filter = IdempotencyFilter.builder(store)
        .listener(new MicrometerListener(registry)).build();
    assertThat(registry.get("idempotency.fallback").functionCounter().count()).isZero();

    fallbacks.set(7);
    assertThat(registry.get("idempotency.fallback").functionCounter().count()).isEqualTo(7);
    filter.destroy();
    fallbacks.set(0);
    assertThat(registry.get("idempotency.fallback").functionCounter().count()).isEqualTo(7);
  }

  private static double count(SimpleMeterRegistry registry, String outcome) {
    return registry.get("idempotency.requests").tag("outcome", outcome).counter().count();
  }

  private HttpResponse<byte[]> admin(String method, String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri("/idempotency" + path))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return send(b);
  }

  @Test
  void operatorEndpointInspectsPurgesAndListsWithoutShowingBodiesOrKeys() throws Exception {
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .adminToken("s3cret").build();
    start(filter, new IdempotencyAdminServlet(filter));
    String key = "order-" + UUID.randomUUID();
    send(post(uri("/echo"), key, "{\"card\":\"4242424242424242\"}"));

    assertThat(admin("GET", "/keys?key=" + key, null).statusCode()).isEqualTo(401);
    assertThat(admin("GET", "/keys?key=" + key, "wrong").statusCode()).isEqualTo(401);

    HttpResponse<byte[]> found = admin("GET", "/keys?scope=anonymous&key=" + key, "s3cret");
    assertThat(found.statusCode()).isEqualTo(200);
    JsonNode record = JSON.readTree(found.body());
    assertThat(record.get("state").asText()).isEqualTo("completed");
    assertThat(record.get("status").asInt()).isEqualTo(201);
    assertThat(record.get("bodyBytes").asInt()).isEqualTo("{\"card\":\"4242424242424242\"}".length());
    assertThat(record.get("requestHashPrefix").asText()).hasSize(12);
    assertThat(text(found)).doesNotContain("4242424242424242").doesNotContain(key);

    String storeKey = record.get("storeKey").asText();
    assertThat(admin("GET", "/keys/" + storeKey, "s3cret").statusCode()).isEqualTo(200);
    assertThat(admin("DELETE", "/keys/" + storeKey, "s3cret").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> gone = admin("GET", "/keys/" + storeKey, "s3cret");
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(text(gone)).contains(Problem.TYPE_PREFIX + "not-found");
    // Purged: the same key executes again.
    send(post(uri("/echo"), key, "{\"card\":\"4242424242424242\"}"));
    assertThat(app.executions).hasValue(2);

    CompletableFuture<HttpResponse<byte[]>> held = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(uri("/echo?hold=1"), "stuck", "{}").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    JsonNode locks = JSON.readTree(admin("GET", "/in-flight?olderThan=0s", "s3cret").body());
    assertThat(locks.get("records")).hasSize(1);
    assertThat(locks.get("records").get(0).get("state").asText()).isEqualTo("in-flight");
    JsonNode none = JSON.readTree(admin("GET", "/in-flight?olderThan=1h", "s3cret").body());
    assertThat(none.get("records")).isEmpty();
    app.gate.countDown();
    held.get(10, TimeUnit.SECONDS);
  }

  @Test
  void operatorEndpointAnswersBadParametersWith400AndTakesTheSchemeInAnyCase() throws Exception {
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .adminToken("s3cret").build();
    start(filter, new IdempotencyAdminServlet(filter));
    for (String bad : new String[] {"abc", "5x", "", "9999999999999999d", "PT"}) {
      HttpResponse<byte[]> r = admin("GET", "/in-flight?olderThan=" + bad, "s3cret");
      assertThat(r.statusCode()).as("olderThan=" + bad).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Type")).contains("application/problem+json");
    }
    for (String bad : new String[] {"-1", "0", "10001", "many"}) {
      HttpResponse<byte[]> r = admin("GET", "/in-flight?limit=" + bad, "s3cret");
      assertThat(r.statusCode()).as("limit=" + bad).isEqualTo(400);
    }
    assertThat(admin("GET", "/in-flight?limit=10000", "s3cret").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> lowerCase = send(HttpRequest.newBuilder(uri("/idempotency/in-flight"))
        .header("Authorization", "bearer s3cret").GET());
    assertThat(lowerCase.statusCode()).isEqualTo(200);

    HttpResponse<byte[]> deleteListing = admin("DELETE", "/in-flight", "s3cret");
    assertThat(deleteListing.statusCode()).isEqualTo(405);
    assertThat(deleteListing.headers().firstValue("Allow")).contains("GET");
    assertThat(text(deleteListing)).contains(Problem.TYPE_PREFIX + "method-not-allowed");
    HttpResponse<byte[]> putKey = admin("PUT", "/keys?key=x", "s3cret");
    assertThat(putKey.statusCode()).isEqualTo(405);
    assertThat(putKey.headers().firstValue("Allow")).contains("GET, DELETE");
    HttpResponse<byte[]> upperCase = admin("GET", "/keys/" + "AB".repeat(32), "s3cret");
    assertThat(upperCase.statusCode()).as("a well-formed store key, no record").isEqualTo(404);
  }

  @Test
  void operatorEndpointIsOffWithoutAToken() throws Exception {
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore()).build();
    start(filter, new IdempotencyAdminServlet(filter));
    HttpResponse<byte[]> r = admin("GET", "/in-flight", "anything");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(text(r)).contains("off");
  }

  /** Loads the filter's own classes again, child-first, with every Micrometer class hidden. */
  private static final class WithoutMicrometer extends URLClassLoader {
    WithoutMicrometer(URL classes, ClassLoader parent) {
      super(new URL[] {classes}, parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (name.startsWith("io.micrometer.")) {
        throw new ClassNotFoundException(name);
      }
      if (name.startsWith("dev.idempotency.")) {
        synchronized (getClassLoadingLock(name)) {
          Class<?> c = findLoadedClass(name);
          if (c == null) {
            c = findClass(name);
          }
          return c;
        }
      }
      return super.loadClass(name, resolve);
    }
  }

  @Test
  void filterRunsFromWebXmlWithoutMicrometerOnTheClasspath() throws Exception {
    URL classes = IdempotencyFilter.class.getProtectionDomain().getCodeSource().getLocation();
    try (WithoutMicrometer loader = new WithoutMicrometer(classes, getClass().getClassLoader())) {
      Class<?> type = loader.loadClass(IdempotencyFilter.class.getName());
      assertThat(type.getClassLoader()).isSameAs(loader);
      Filter filter = (Filter) type.getConstructor().newInstance();
      start(filter, null);
      String key = UUID.randomUUID().toString();
      send(post(uri("/echo"), key, "{}"));
      HttpResponse<byte[]> replay = send(post(uri("/echo"), key, "{}"));
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
      assertThat(app.executions).hasValue(1);
      org.assertj.core.api.Assertions.assertThatThrownBy(
          () -> loader.loadClass("io.micrometer.core.instrument.Metrics"))
          .isInstanceOf(ClassNotFoundException.class);
    }
  }
}
