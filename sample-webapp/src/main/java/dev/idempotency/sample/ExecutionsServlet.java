package dev.idempotency.sample;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Map;

/**
 * {@code GET /api/executions} → {@code {"count": N}}: how many times any POST handler of the
 * sample has run since start, failed runs included. A replay does not count. Thread-safe.
 */
public final class ExecutionsServlet extends HttpServlet {

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    Http.json(response, HttpServletResponse.SC_OK, Map.of("count", app.executions()));
  }
}
