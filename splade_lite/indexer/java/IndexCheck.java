// Lucene's own CheckIndex over an index folder, read-only, summed up in one line.
//
// Opening an index reads only its small metadata files: a flipped byte in the postings
// (.doc) or the doc values (.dvd) shows up later, if ever, as other hits or an odd exception.
// CheckIndex verifies every file's checksum and decodes every posting, doc value, stored
// field and norm, which is what `splade-lite check` wants. It runs without taking the
// index's write lock (so it creates no write.lock file and works on a read-only folder).
package splade_lite;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import org.apache.lucene.index.CheckIndex;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.NoLockFactory;

public final class IndexCheck {
  private IndexCheck() {}

  /**
   * Null when CheckIndex finds the index whole; else the first problem it found, in one line
   * (the segment, what failed, and the deepest cause Lucene gave).
   */
  public static String problem(String indexDir, int threads) {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    try (Directory dir = FSDirectory.open(Paths.get(indexDir), NoLockFactory.INSTANCE);
        CheckIndex checker =
            new CheckIndex(dir, NoLockFactory.INSTANCE.obtainLock(dir, IndexWriter.WRITE_LOCK_NAME))) {
      checker.setInfoStream(new PrintStream(log, true, StandardCharsets.UTF_8), false);
      checker.setThreadCount(Math.max(1, threads));
      CheckIndex.Status status = checker.checkIndex();
      return status.clean ? null : describe(status, log.toString(StandardCharsets.UTF_8));
    } catch (Exception e) {
      return oneLine(e);
    }
  }

  private static String describe(CheckIndex.Status status, String log) {
    if (status.missingSegments) {
      return "no readable segments file" + firstError(log);
    }
    if (status.toolOutOfDate) {
      return "written by a newer Lucene than this one (" + status.segmentsFileName + ")";
    }
    for (CheckIndex.Status.SegmentInfoStatus segment : status.segmentInfos) {
      if (segment.error != null) {
        return "segment " + segment.name + ": " + oneLine(segment.error);
      }
    }
    return status.numBadSegments + " bad segment(s)" + firstError(log);
  }

  /** ": " and the first line of CheckIndex's log that reports a failure, if any. */
  private static String firstError(String log) {
    for (String line : log.split("\n")) {
      String trimmed = line.trim();
      if (trimmed.startsWith("ERROR") || trimmed.startsWith("FAILED") || trimmed.contains("WARNING")) {
        return ": " + trimmed;
      }
    }
    return "";
  }

  /** The exception and its deepest cause with a message, on one line. */
  static String oneLine(Throwable error) {
    Throwable deepest = error;
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t.getMessage() != null) {
        deepest = t;
      }
    }
    String message = deepest.getMessage() == null ? "" : ": " + deepest.getMessage();
    return (deepest.getClass().getSimpleName() + message).replaceAll("\\s+", " ").trim();
  }
}
