// Anserini's IndexCollection (or, with --impacts first, ImpactIndexer; with --dense first,
// Anserini's IndexFlatDenseVectors), ended as soon as the process that started it is gone.
//
// splade-lite runs the indexer as a child process and keeps the write end of its stdin. When
// that process dies, however it dies (killed, crashed, on any OS), the operating system
// closes the pipe and a read here returns end-of-file: the indexer then stops at once
// instead of writing a staging folder nobody will use, for minutes. Python closes stdin only
// by dying, so end-of-file never comes during a normal build.
package splade_lite;

import java.io.IOException;

public final class IndexWithParent {
  private IndexWithParent() {}

  public static void main(String[] args) throws Exception {
    Thread watch =
        new Thread(
            () -> {
              try {
                while (System.in.read() != -1) {
                  // nothing is ever sent: only the end of the stream matters
                }
              } catch (IOException e) {
                // a broken pipe means the same as end-of-file
              }
              Runtime.getRuntime().halt(143); // 128 + SIGTERM, as if it had been terminated
            },
            "splade-lite-parent-watch");
    watch.setDaemon(true);
    watch.start();
    if (args.length > 0 && args[0].equals("--impacts")) {
      ImpactIndexer.main(java.util.Arrays.copyOfRange(args, 1, args.length));
    } else if (args.length > 0 && args[0].equals("--dense")) {
      io.anserini.index.IndexFlatDenseVectors.main(java.util.Arrays.copyOfRange(args, 1, args.length));
    } else {
      io.anserini.index.IndexCollection.main(args);
    }
  }
}
