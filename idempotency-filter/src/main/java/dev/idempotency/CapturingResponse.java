package dev.idempotency;

import dev.idempotency.spi.StoredResponse;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Tees the response: every byte goes straight on to the client — same bytes, same flushes, same
 * commit points, nothing held back — while a copy up to {@code max-response-bytes} is kept for
 * the store. Writers tee characters, so the container still chooses the charset and its header.
 * {@code sendError} and {@code sendRedirect} are recorded and replayed through the container, so
 * a replay renders the same error page or redirect. Not thread-safe, like the response it wraps.
 */
final class CapturingResponse extends HttpServletResponseWrapper {

  /** Pseudo-headers (never valid header names) that tell the replay to go through the container. */
  static final String SEND_ERROR = ":send-error";

  static final String SEND_REDIRECT = ":send-redirect";

  private static final Set<String> NOT_STORED = caseInsensitive(
      "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
      "Trailers", "Transfer-Encoding", "Upgrade", "Date", "Content-Length", "Content-Type",
      IdempotencyFilter.REPLAYED_HEADER);

  private final Capture capture;
  private final boolean keepSetCookie;
  private TeeOutputStream stream;
  private PrintWriter writer;
  private OutputStreamWriter charCapture;
  private String errorMessage;
  private boolean errorSent;
  private String redirect;

  CapturingResponse(HttpServletResponse response, long maxBytes, boolean keepSetCookie) {
    super(response);
    this.capture = new Capture((int) maxBytes);
    this.keepSetCookie = keepSetCookie;
  }

  private static Set<String> caseInsensitive(String... names) {
    Set<String> set = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    set.addAll(Arrays.asList(names));
    return set;
  }

  @Override
  public ServletOutputStream getOutputStream() throws IOException {
    if (stream == null) {
      stream = new TeeOutputStream(super.getOutputStream(), capture);
    }
    return stream;
  }

  @Override
  public PrintWriter getWriter() throws IOException {
    if (writer == null) {
      PrintWriter real = super.getWriter();
      Charset charset;
      try {
        charset = Charset.forName(getCharacterEncoding());
      } catch (IllegalArgumentException | NullPointerException e) {
        charset = StandardCharsets.ISO_8859_1;
      }
      charCapture = new OutputStreamWriter(capture, charset);
      writer = new PrintWriter(new TeeWriter(real, charCapture));
    }
    return writer;
  }

  @Override
  public void sendError(int sc, String msg) throws IOException {
    super.sendError(sc, msg);
    errorSent = true;
    errorMessage = msg;
  }

  @Override
  public void sendError(int sc) throws IOException {
    super.sendError(sc);
    errorSent = true;
  }

  @Override
  public void sendRedirect(String location) throws IOException {
    super.sendRedirect(location);
    redirect = location;
  }

  @Override
  public void reset() {
    super.reset();
    capture.reset();
    errorSent = false;
    redirect = null;
  }

  @Override
  public void resetBuffer() {
    super.resetBuffer();
    capture.reset();
  }

  /** Whether the body grew past {@code max-response-bytes}, so it cannot be stored. */
  boolean overflowed() {
    flushCharCapture();
    return capture.overflowed;
  }

  /** The response as the client got it, without the headers a replay must not repeat. */
  StoredResponse snapshot() {
    flushCharCapture();
    Map<String, List<String>> headers = new LinkedHashMap<>();
    Collection<String> names = getHeaderNames();
    Set<String> seen = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    for (String name : names) {
      if (!seen.add(name) || NOT_STORED.contains(name)
          || (!keepSetCookie && name.equalsIgnoreCase("Set-Cookie"))) {
        continue;
      }
      headers.put(name, new ArrayList<>(getHeaders(name)));
    }
    String contentType = getContentType();
    if (contentType != null) {
      headers.put("Content-Type", List.of(contentType));
    }
    if (errorSent) {
      headers.put(SEND_ERROR, List.of(errorMessage == null ? "" : errorMessage));
    }
    if (redirect != null) {
      headers.put(SEND_REDIRECT, List.of(redirect));
    }
    return new StoredResponse(getStatus(), headers, capture.bytes());
  }

  private void flushCharCapture() {
    if (charCapture != null) {
      try {
        charCapture.flush();
      } catch (IOException e) {
        throw new IllegalStateException("a memory capture cannot fail", e);
      }
    }
  }

  /** The kept copy; stops copying, and drops what it has, past its limit. */
  private static final class Capture extends OutputStream {
    private final int max;
    private byte[] buf = new byte[256];
    private int count;
    private boolean overflowed;

    Capture(int max) {
      this.max = max;
    }

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (overflowed) {
        return;
      }
      if (count + len > max) {
        overflowed = true;
        buf = null;
        return;
      }
      if (count + len > buf.length) {
        buf = Arrays.copyOf(buf, Math.min(max, Math.max(buf.length * 2, count + len)));
      }
      System.arraycopy(b, off, buf, count, len);
      count += len;
    }

    void reset() {
      count = 0;
      if (overflowed) {
        overflowed = false;
        buf = new byte[256];
      }
    }

    byte[] bytes() {
      return overflowed ? new byte[0] : Arrays.copyOf(buf, count);
    }
  }

  /** Writes through to the container's stream and to the capture. */
  private static final class TeeOutputStream extends ServletOutputStream {
    private final ServletOutputStream out;
    private final Capture capture;

    TeeOutputStream(ServletOutputStream out, Capture capture) {
      this.out = out;
      this.capture = capture;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      capture.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      capture.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }

    @Override
    public boolean isReady() {
      return out.isReady();
    }

    @Override
    public void setWriteListener(WriteListener listener) {
      out.setWriteListener(listener);
    }
  }

  /** Writes characters through to the container's writer and, encoded, to the capture. */
  private static final class TeeWriter extends Writer {
    private final PrintWriter out;
    private final Writer capture;

    TeeWriter(PrintWriter out, Writer capture) {
      this.out = out;
      this.capture = capture;
    }

    @Override
    public void write(char[] cbuf, int off, int len) throws IOException {
      out.write(cbuf, off, len);
      capture.write(cbuf, off, len);
    }

    @Override
    public void write(String str, int off, int len) throws IOException {
      out.write(str, off, len);
      capture.write(str, off, len);
    }

    @Override
    public void write(int c) throws IOException {
      out.write(c);
      capture.write(c);
    }

    @Override
    public void flush() {
      out.flush();
    }

    @Override
    public void close() {
      out.close();
    }
  }
}
