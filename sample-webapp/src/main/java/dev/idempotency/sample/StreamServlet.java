package dev.idempotency.sample;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.PrintWriter;

/**
 * {@code POST /api/stream?chunks=N} → {@code N} lines of text (default 3, at most 10000), each
 * flushed on its own, so the response goes out chunked as it is written. Thread-safe.
 */
public final class StreamServlet extends HttpServlet {

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    app.executed();
    int chunks;
    try {
      chunks = Http.intParameter(request, "chunks", 3, 0, 10_000);
    } catch (Http.BadParameter e) {
      e.send(response);
      return;
    }
    response.setStatus(HttpServletResponse.SC_OK);
    response.setContentType("text/plain;charset=utf-8");
    PrintWriter out = response.getWriter();
    for (int i = 1; i <= chunks; i++) {
      out.print("chunk " + i + " of " + chunks + "\n");
      response.flushBuffer();
    }
  }
}
