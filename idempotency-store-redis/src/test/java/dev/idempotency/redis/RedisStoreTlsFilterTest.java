package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.IdempotencyFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The filter configured as a web.xml would ({@code store=redis}, {@code redis.uri=rediss://...}
 * as init-params) on a Redis that speaks only TLS, with the private CA in the JVM's trust store:
 * the provider reaches TLS the same way the builder does.
 */
class RedisStoreTlsFilterTest {

  @Test
  void filterConfiguredByInitParamsReplaysOverTls(@TempDir Path dir) throws Exception {
    TestCertificates certs = TestCertificates.create(dir);
    AtomicInteger executions = new AtomicInteger();
    IdempotencyFilter filter = new IdempotencyFilter();
    try (RedisProcess redis = RedisProcess.startTls(certs, RedisProcess.freePort(false), List.of())) {
      Server server = new Server(new InetSocketAddress("127.0.0.1", 0));
      ServletContextHandler context = new ServletContextHandler();
      FilterHolder holder = new FilterHolder(filter);
      holder.setInitParameter("store", "redis");
      holder.setInitParameter("redis.uri", redis.uri());
      context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST));
      context.addServlet(
          new ServletHolder(
              new HttpServlet() {
                @Override
                protected void doPost(HttpServletRequest req, HttpServletResponse resp)
                    throws IOException {
                  resp.setStatus(201);
                  resp.getWriter().print("order " + executions.incrementAndGet());
                }
              }),
          "/orders");
      server.setHandler(context);
      RedisStoreTlsTest.trusting(
          certs,
          () -> {
            try {
              server.start(); // the filter's init builds the store
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
            return null;
          });
      try {
        assertThat(filter.store()).as("built at start-up, not deferred")
            .isInstanceOf(RedisStore.class);
        int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest order =
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/orders"))
                .header("Idempotency-Key", "tls-1")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"item\":\"book\"}"))
                .build();
        HttpResponse<String> first = http.send(order, HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> retry = http.send(order, HttpResponse.BodyHandlers.ofString());

        assertThat(first.statusCode()).isEqualTo(201);
        assertThat(retry.statusCode()).isEqualTo(201);
        assertThat(retry.body()).isEqualTo("order 1");
        assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        assertThat(executions).hasValue(1);
        assertThat(redis.call("KEYS", "idem:*")).asList().hasSize(1);
      } finally {
        server.stop();
      }
    }
  }
}
