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
 * commit points — while a copy up to {@code max-response-bytes} is kept for the store. One thing
 * is held back while the handler runs on the request thread: the last byte of a body whose
 * {@code Content-Length} it declared, and a {@code close()} of the stream. Either would let the
 * container finish the response before the filter stored it, and a retry sent the moment the
 * response arrived (on another connection) would find the key still in flight. The filter
 * {@linkplain #releaseHeld() releases} them right after storing. Writers tee characters, so the container still chooses the charset and its header.
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

  /**
   * Set by a compressing container at commit (Tomcat's {@code compression}, Jetty's
   * {@code GzipHandler}) over a body the capture holds uncompressed: stored only as the
   * application set them. A replay goes through the same container, which compresses again.
   */
  private static final Set<String> AS_SET = caseInsensitive("Content-Encoding", "Vary");

  private final Capture capture;
  private final boolean keepSetCookie;
  private final Map<String, List<String>> setByApplication =
      new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
  private boolean localeSet;
  /** A write to the client failed: the handler may have stopped short of its whole body. */
  private volatile boolean broken;
  private volatile TeeOutputStream stream;
  private PrintWriter writer;
  private OutputStreamWriter charCapture;
  private String errorMessage;
  private boolean errorSent;
  private String redirect;
  private long declaredLength = -1;
  private volatile boolean holding;
  /**
   * The container ended the response with no body to hold back (a redirect, a flush with
   * {@code Content-Length: 0}), or ends it after an async dispatch. A retry then waits for the
   * store write instead of a 409.
   */
  private volatile boolean endedWithoutBody;
  private volatile boolean writerCloseDeferred;

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

  /**
   * Whether the client has, or is about to have, the whole body: the handler wrote all the
   * {@code Content-Length} it declared, or closed the stream. Safe from any thread.
   */
  boolean bodyEnded() {
    TeeOutputStream s = stream;
    return endedWithoutBody || (s != null && s.ended);
  }

  /**
   * The handler dispatched its async request: the container ends the response when the
   * dispatched servlet returns, and the filter stores it after that. A retry in this JVM waits
   * for the store write meanwhile, as for a response that already ended.
   */
  void endsByDispatch() {
    endedWithoutBody = true;
  }

  /** From now until {@link #releaseHeld()}, hold back what would end the response. */
  void holdEnd() {
    holding = true;
  }

  /** Sends what was held back; from now on every byte and close goes straight through. */
  void releaseHeld() {
    holding = false;
    try {
      if (stream != null) {
        stream.release();
      }
      if (writerCloseDeferred) {
        writerCloseDeferred = false;
        super.getWriter().close();
      }
    } catch (IOException e) {
      // the client went away; the container sees the same when it finishes the response
    }
  }

  /**
   * Under the stream's lock: an async handler flushing on its thread while the filter's thread
   * sends the held-back byte would use the container's output from two threads at once, which
   * Jetty answers by failing one of them (the response then never ends).
   */
  @Override
  public void flushBuffer() throws IOException {
    TeeOutputStream s = stream;
    if (declaredLength == 0) {
      endedWithoutBody = true;
    }
    if (s == null) {
      super.flushBuffer();
      return;
    }
    synchronized (s) {
      super.flushBuffer();
    }
  }

  /**
   * The handler wrote all of its declared body, or closed the stream, while the end is held:
   * the container would have committed the response, so it looks committed. What a handler does
   * to a committed response (a status or header set late: ignored; {@code sendError}, a reset:
   * {@link IllegalStateException}) must not change the answer the client gets.
   */
  private boolean endedWhileHeld() {
    TeeOutputStream s = stream;
    return holding && s != null && s.ended;
  }

  private void refuseIfEnded() {
    if (endedWhileHeld()) {
      throw new IllegalStateException("the response is committed");
    }
  }

  @Override
  public boolean isCommitted() {
    return endedWhileHeld() || super.isCommitted();
  }

  @Override
  public void setStatus(int sc) {
    if (!endedWhileHeld()) {
      super.setStatus(sc);
    }
  }

  @Override
  public void setDateHeader(String name, long date) {
    if (!endedWhileHeld()) {
      super.setDateHeader(name, date);
    }
  }

  @Override
  public void addDateHeader(String name, long date) {
    if (!endedWhileHeld()) {
      super.addDateHeader(name, date);
    }
  }

  @Override
  public void addIntHeader(String name, int value) {
    if (!endedWhileHeld()) {
      super.addIntHeader(name, value);
    }
  }

  @Override
  public void addCookie(jakarta.servlet.http.Cookie cookie) {
    if (!endedWhileHeld()) {
      super.addCookie(cookie);
    }
  }

  @Override
  public void setContentType(String type) {
    if (!endedWhileHeld()) {
      super.setContentType(type);
    }
  }

  @Override
  public void setCharacterEncoding(String charset) {
    if (!endedWhileHeld()) {
      super.setCharacterEncoding(charset);
    }
  }

  @Override
  public void setContentLength(int len) {
    if (endedWhileHeld()) {
      return;
    }
    super.setContentLength(len);
    declaredLength = len;
    capture.expect(len);
  }

  @Override
  public void setContentLengthLong(long len) {
    if (endedWhileHeld()) {
      return;
    }
    super.setContentLengthLong(len);
    declaredLength = len;
    capture.expect(len);
  }

  @Override
  public void setHeader(String name, String value) {
    if (endedWhileHeld()) {
      return;
    }
    super.setHeader(name, value);
    contentLengthHeader(name, value);
    if (name != null && AS_SET.contains(name)) {
      setByApplication.remove(name);
      if (value != null) {
        setByApplication.put(name, new ArrayList<>(List.of(value)));
      }
    }
  }

  @Override
  public void addHeader(String name, String value) {
    if (endedWhileHeld()) {
      return;
    }
    super.addHeader(name, value);
    contentLengthHeader(name, value);
    if (name != null && value != null && AS_SET.contains(name)) {
      setByApplication.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
    }
  }

  /** Tomcat adds its {@code Content-Language} only at commit, often after the store write. */
  @Override
  public void setLocale(java.util.Locale locale) {
    if (endedWhileHeld()) {
      return;
    }
    if (!super.isCommitted()) {
      localeSet = locale != null;
    }
    super.setLocale(locale);
  }

  @Override
  public void setIntHeader(String name, int value) {
    if (endedWhileHeld()) {
      return;
    }
    super.setIntHeader(name, value);
    contentLengthHeader(name, Integer.toString(value));
  }

  private void contentLengthHeader(String name, String value) {
    if ("Content-Length".equalsIgnoreCase(name)) {
      try {
        declaredLength = value == null ? -1 : Long.parseLong(value.trim());
      } catch (NumberFormatException e) {
        declaredLength = -1;
      }
    }
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
      writer = new PrintWriter(new TeeWriter(real, charCapture, this));
    }
    return writer;
  }

  @Override
  public void sendError(int sc, String msg) throws IOException {
    refuseIfEnded();
    super.sendError(sc, msg);
    errorSent = true;
    errorMessage = msg;
  }

  @Override
  public void sendError(int sc) throws IOException {
    refuseIfEnded();
    super.sendError(sc);
    errorSent = true;
  }

  @Override
  public void sendRedirect(String location) throws IOException {
    refuseIfEnded();
    endedWithoutBody = true;
    super.sendRedirect(location);
    redirect = location;
  }

  @Override
  public void reset() {
    refuseIfEnded();
    super.reset();
    declaredLength = -1;
    localeSet = false;
    setByApplication.clear();
    if (stream != null) {
      stream.reset();
    }
    // Text the writer's encoder still holds was discarded with the rest.
    flushCharCapture();
    capture.reset();
    errorSent = false;
    redirect = null;
  }

  @Override
  public void resetBuffer() {
    refuseIfEnded();
    super.resetBuffer();
    if (stream != null) {
      stream.reset();
    }
    flushCharCapture();
    capture.reset();
  }

  /**
   * Whether the client cannot have had the whole response: a write to it failed (a handler that
   * catches that and returns would otherwise have its first bytes stored as the response), or
   * fewer bytes were written than the {@code Content-Length} declared.
   */
  boolean incomplete() {
    flushCharCapture();
    return broken
        || (declaredLength >= 0 && !errorSent && redirect == null
            && capture.total < declaredLength);
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
      if (AS_SET.contains(name)) {
        List<String> set = setByApplication.get(name);
        if (set != null) {
          headers.put(name, new ArrayList<>(set));
        }
        continue;
      }
      headers.put(name, new ArrayList<>(getHeaders(name)));
    }
    if (localeSet && !seen.contains("Content-Language")) {
      headers.put("Content-Language", List.of(getLocale().toLanguageTag()));
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
    /** Every byte written since the last reset, kept or not. */
    private long total;
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
      total += len;
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

    /** Sizes the copy for a declared length up front, so it is neither grown nor trimmed. */
    void expect(long length) {
      if (!overflowed && count == 0 && length > buf.length && length <= max) {
        buf = new byte[(int) length];
      }
    }

    void reset() {
      count = 0;
      total = 0;
      if (overflowed) {
        overflowed = false;
        buf = new byte[256];
      }
    }

    /** The bytes kept; taken once, when the response is done, so the buffer itself may go. */
    byte[] bytes() {
      if (overflowed) {
        return new byte[0];
      }
      return count == buf.length ? buf : Arrays.copyOf(buf, count);
    }
  }

  /**
   * Writes through to the container's stream and to the capture, holding back the declared
   * body's last byte and a close while the response {@link #holding holds its end}. Synchronized
   * because the filter releases on the request thread while an async handler may be writing.
   */
  private final class TeeOutputStream extends ServletOutputStream {
    private final ServletOutputStream out;
    private final Capture capture;
    private long sent;
    private byte[] held;
    private boolean closeDeferred;
    private volatile boolean ended;

    TeeOutputStream(ServletOutputStream out, Capture capture) {
      this.out = out;
      this.capture = capture;
    }

    @Override
    public synchronized void write(int b) throws IOException {
      if (held == null && !(holding && declaredLength >= 0 && sent + 1 >= declaredLength)) {
        // before the write: the client may have the last byte before out.write returns
        ended = declaredLength >= 0 && sent + 1 >= declaredLength;
        try {
          out.write(b);
        } catch (IOException e) {
          broken = true;
          throw e;
        }
        capture.write(b);
        sent++;
      } else {
        write(new byte[] {(byte) b}, 0, 1);
      }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      capture.write(b, off, len);
      if (held != null) {
        hold(b, off, len);
        return;
      }
      int pass = len;
      // before the write: the client may have the last byte before out.write returns
      ended = declaredLength >= 0 && sent + len >= declaredLength;
      if (holding && declaredLength >= 0 && sent + len >= declaredLength) {
        pass = (int) Math.max(0, Math.min(len, declaredLength - 1 - sent));
      }
      if (pass > 0) {
        try {
          out.write(b, off, pass);
        } catch (IOException e) {
          broken = true;
          throw e;
        }
        sent += pass;
      }
      if (pass < len) {
        hold(b, off + pass, len - pass);
      }
    }

    private void hold(byte[] b, int off, int len) {
      int from = held == null ? 0 : held.length;
      held = held == null ? new byte[len] : Arrays.copyOf(held, from + len);
      System.arraycopy(b, off, held, from, len);
    }

    synchronized void release() throws IOException {
      if (held != null) {
        byte[] rest = held;
        held = null;
        out.write(rest);
        sent += rest.length;
      }
      if (closeDeferred) {
        closeDeferred = false;
        out.close();
      }
    }

    synchronized void reset() {
      sent = 0;
      held = null;
      ended = false;
    }

    @Override
    public synchronized void flush() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        broken = true;
        throw e;
      }
    }

    @Override
    public synchronized void close() throws IOException {
      ended = true;
      if (holding) {
        closeDeferred = true;
        flush();
      } else {
        release();
        out.close();
      }
    }

    @Override
    public boolean isReady() {
      return out.isReady();
    }

    /**
     * Non-blocking: every write must follow an {@code isReady()} that said yes, which a byte the
     * filter held back and sent later would not (Jetty fails it, and the client gets a 500).
     * Nothing is held for such a response, as for any async one.
     */
    @Override
    public void setWriteListener(WriteListener listener) {
      holding = false;
      out.setWriteListener(listener);
    }
  }

  /** Writes characters through to the container's writer and, encoded, to the capture. */
  private static final class TeeWriter extends Writer {
    private final PrintWriter out;
    private final Writer capture;
    private final CapturingResponse response;

    TeeWriter(PrintWriter out, Writer capture, CapturingResponse response) {
      this.out = out;
      this.capture = capture;
      this.response = response;
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
      if (response.holding) {
        response.writerCloseDeferred = true;
        out.flush();
      } else {
        out.close();
      }
    }
  }
}
