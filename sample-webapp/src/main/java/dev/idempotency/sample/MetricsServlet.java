package dev.idempotency.sample;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * {@code GET /metrics}: Prometheus text exposition of the filter's meters (SPEC §10) and the
 * sample's own {@code sample_executions_total} and {@code sample_orders}. Thread-safe.
 */
public final class MetricsServlet extends HttpServlet {

  private transient PrometheusMeterRegistry registry;

  @Override
  public void init() {
    SampleApp app = SampleApp.of(getServletContext());
    registry = SampleMetrics.of(getServletContext()).prometheus();
    FunctionCounter.builder("sample.executions", app, SampleApp::executions)
        .description("Runs of the sample's POST handlers")
        .register(registry);
    Gauge.builder("sample.orders", app, a -> a.orders().size())
        .description("Orders held in memory")
        .register(registry);
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    byte[] bytes = registry.scrape().getBytes(StandardCharsets.UTF_8);
    response.setStatus(HttpServletResponse.SC_OK);
    response.setContentType("text/plain;version=0.0.4;charset=utf-8");
    response.setHeader("Cache-Control", "no-store");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }
}
