package dev.idempotency.sample;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** JSON and RFC 9457 problem responses shared by the servlets. Stateless, thread-safe. */
final class Http {

  static final ObjectMapper JSON = new ObjectMapper();

  /** The prefix of the sample's own problem types; the filter uses its own. */
  static final String PROBLEM_TYPE_PREFIX = "urn:problem-type:sample:";

  private Http() {}

  static void json(HttpServletResponse response, int status, Object body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    response.setStatus(status);
    response.setContentType("application/json");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  static void problem(HttpServletResponse response, int status, String kind, String title,
      String detail) throws IOException {
    Map<String, Object> problem = new LinkedHashMap<>();
    problem.put("type", PROBLEM_TYPE_PREFIX + kind);
    problem.put("title", title);
    problem.put("status", status);
    problem.put("detail", detail);
    byte[] bytes = JSON.writeValueAsBytes(problem);
    response.setStatus(status);
    response.setContentType("application/problem+json");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  /**
   * The integer query parameter {@code name} within [min, max], or {@code fallback} when absent.
   *
   * @throws BadParameter naming the parameter and the value
   */
  static int intParameter(HttpServletRequest request, String name, int fallback, int min, int max)
      throws BadParameter {
    String value = request.getParameter(name);
    if (value == null || value.isEmpty()) {
      return fallback;
    }
    try {
      int n = Integer.parseInt(value.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // answered below, naming the value
    }
    throw new BadParameter(name + " must be an integer from " + min + " to " + max + ": " + value);
  }

  /** A query parameter out of range; the servlet answers 400 with its message. */
  static final class BadParameter extends Exception {
    BadParameter(String message) {
      super(message, null, false, false);
    }

    void send(HttpServletResponse response) throws IOException {
      problem(response, 400, "invalid-parameter", "Invalid query parameter", getMessage());
    }
  }

  static void sleep(int millis) throws IOException {
    if (millis <= 0) {
      return;
    }
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while sleeping delayMs=" + millis, e);
    }
  }
}
