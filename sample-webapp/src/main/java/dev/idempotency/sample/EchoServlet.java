package dev.idempotency.sample;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code POST /api/echo} → {@code {"contentType", "body", "params"}}: what this servlet read.
 * A form post ({@code application/x-www-form-urlencoded}) is read only through
 * {@code getParameterMap()} and {@code body} is null; any other body is read from
 * {@code getInputStream()}, and {@code params} holds the query parameters. This shows that the
 * filter hands the body on intact after reading it. Thread-safe.
 */
public final class EchoServlet extends HttpServlet {

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    app.executed();
    String contentType = request.getContentType();
    String body = null;
    if (!isForm(contentType)) {
      Charset charset =
          request.getCharacterEncoding() == null
              ? StandardCharsets.UTF_8
              : Charset.forName(request.getCharacterEncoding());
      body = new String(request.getInputStream().readAllBytes(), charset);
    }
    Map<String, Object> echo = new LinkedHashMap<>();
    echo.put("contentType", contentType);
    echo.put("body", body);
    echo.put("params", request.getParameterMap());
    Http.json(response, HttpServletResponse.SC_OK, echo);
  }

  private static boolean isForm(String contentType) {
    return contentType != null
        && contentType.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded");
  }
}
