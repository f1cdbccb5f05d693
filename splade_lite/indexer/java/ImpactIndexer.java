// Builds a Lucene impact index from splade-lite's vector shards, term by term.
//
// Anserini's JsonVectorCollection writes each token `weight` times into one string that its
// whitespace analyzer splits again, so indexing a document costs the sum of its weights
// (tens of thousands of tokens for a SPLADE document at scale 100). This class hands Lucene
// each term once with its weight as the term frequency (TermFrequencyAttribute), which
// writes the same postings, frequencies and norms, in the same document fields as Anserini's
// DefaultLuceneDocumentGenerator: `id` (stored StringField and BinaryDocValues) and
// `contents` (DOCS_AND_FREQS, not stored), with Anserini's ImpactSimilarity at index time.
//
// Usage: ImpactIndexer INDEX_DIR THREADS BUFFER_MB OPTIMIZE(true|false) SHARD...
// Prints "indexed: N" and "empty: N" (documents without a term, skipped as Anserini skips
// them) when done; any error ends the run with a message and status 1.
// Lines were checked by splade-lite before this runs (splade_lite/shards.py).
package splade_lite;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.anserini.search.similarity.ImpactSimilarity;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPInputStream;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.TermFrequencyAttribute;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.FieldType;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.IndexOptions;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;

public final class ImpactIndexer {
  private static final String ID = "id";
  private static final String CONTENTS = "contents";
  private static final FieldType IMPACTS = new FieldType();

  static {
    IMPACTS.setStored(false);
    IMPACTS.setTokenized(true);
    IMPACTS.setIndexOptions(IndexOptions.DOCS_AND_FREQS);
    IMPACTS.freeze();
  }

  private ImpactIndexer() {}

  /** Each term once, its weight as the term frequency. */
  static final class Impacts extends TokenStream {
    private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
    private final TermFrequencyAttribute freq = addAttribute(TermFrequencyAttribute.class);
    private final List<String> terms;
    private final int[] weights;
    private int next;

    Impacts(List<String> terms, int[] weights) {
      this.terms = terms;
      this.weights = weights;
    }

    @Override
    public boolean incrementToken() {
      if (next >= terms.size()) {
        return false;
      }
      clearAttributes();
      term.setEmpty().append(terms.get(next));
      freq.setTermFrequency(weights[next]);
      next++;
      return true;
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: ImpactIndexer INDEX THREADS BUFFER_MB OPTIMIZE SHARD...");
      System.exit(2);
    }
    Path index = Paths.get(args[0]);
    int threads = Integer.parseInt(args[1]);
    double bufferMb = Double.parseDouble(args[2]);
    boolean optimize = Boolean.parseBoolean(args[3]);
    List<Path> shards = new ArrayList<>();
    for (int i = 4; i < args.length; i++) {
      shards.add(Paths.get(args[i]));
    }
    IndexWriterConfig config = new IndexWriterConfig(new WhitespaceAnalyzer());
    config.setSimilarity(new ImpactSimilarity());
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    config.setRAMBufferSizeMB(bufferMb);
    config.setUseCompoundFile(false);
    AtomicLong indexed = new AtomicLong();
    AtomicLong empty = new AtomicLong();
    try (IndexWriter writer = new IndexWriter(FSDirectory.open(index), config)) {
      ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
      try {
        List<Future<?>> done = new ArrayList<>();
        for (Path shard : shards) {
          done.add(pool.submit(() -> indexShard(writer, shard, indexed, empty)));
        }
        for (Future<?> f : done) {
          f.get();
        }
      } finally {
        pool.shutdownNow();
      }
      if (optimize) {
        writer.forceMerge(1);
      }
      writer.commit();
    }
    System.out.println("indexed: " + indexed.get());
    System.out.println("empty: " + empty.get());
  }

  private static Void indexShard(
      IndexWriter writer, Path shard, AtomicLong indexed, AtomicLong empty) throws IOException {
    JsonFactory json = new JsonFactory();
    InputStream raw = Files.newInputStream(shard);
    if (shard.getFileName().toString().endsWith(".gz")) {
      raw = new GZIPInputStream(raw, 1 << 16);
    }
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(raw, StandardCharsets.UTF_8), 1 << 16)) {
      String line;
      long lineno = 0;
      while ((line = lines.readLine()) != null) {
        lineno++;
        if (line.isBlank()) {
          continue;
        }
        Document doc;
        try {
          doc = document(json, line);
          if (doc != null) {
            writer.addDocument(doc);
          }
        } catch (IOException | RuntimeException e) {
          throw new IOException(shard + ":" + lineno + ": " + e.getMessage(), e);
        }
        (doc == null ? empty : indexed).incrementAndGet();
      }
    }
    return null;
  }

  private static Document document(JsonFactory json, String line) throws IOException {
    String id = null;
    List<String> terms = new ArrayList<>();
    int[] weights = new int[16];
    try (JsonParser parser = json.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        if (ID.equals(name)) {
          id = parser.getText();
        } else if ("vector".equals(name) && value == JsonToken.START_OBJECT) {
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String term = parser.currentName();
            parser.nextToken();
            if (terms.size() == weights.length) {
              weights = java.util.Arrays.copyOf(weights, weights.length * 2);
            }
            weights[terms.size()] = parser.getIntValue();
            terms.add(term);
          }
        } else {
          parser.skipChildren();
        }
      }
    }
    if (id == null) {
      throw new IOException("no id");
    }
    if (terms.isEmpty()) {
      return null; // no term at all: skipped and counted, as Anserini does
    }
    Document doc = new Document();
    doc.add(new StringField(ID, id, Field.Store.YES));
    doc.add(new BinaryDocValuesField(ID, new BytesRef(id)));
    doc.add(new Field(CONTENTS, new Impacts(terms, weights), IMPACTS));
    return doc;
  }
}
