package dev.idempotency.sample;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * {@code GET /metrics}: Prometheus text exposition of the sample's own counters. A placeholder
 * until the filter's Micrometer meters are exposed here; replace this servlet then.
 * Thread-safe.
 */
public final class MetricsServlet extends HttpServlet {

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String text =
        "# HELP sample_executions_total Runs of the sample's POST handlers.\n"
            + "# TYPE sample_executions_total counter\n"
            + "sample_executions_total " + app.executions() + "\n"
            + "# HELP sample_orders Orders held in memory.\n"
            + "# TYPE sample_orders gauge\n"
            + "sample_orders " + app.orders().size() + "\n";
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    response.setStatus(HttpServletResponse.SC_OK);
    response.setContentType("text/plain;version=0.0.4;charset=utf-8");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }
}
