// A small search entry point for splade-lite, compiled against Pyserini's Anserini jar.
//
// Anserini's SimpleImpactSearcher/SimpleSearcher load the stored document of every hit to
// read its id (about 10 microseconds each) and hand back one Java object per hit, which
// pyjnius converts one by one. This class reads ids from the `id` doc values instead and
// returns each ranking as ONE string, "docid<TAB>score" per line, so a search of depth 100
// costs about what Lucene's own search costs. Queries come as one string too: impact
// queries as "term weight term weight ..." (index terms never contain whitespace), BM25
// queries as text analysed like the documents (Anserini's default English analyzer).
//
// Build: see build_java.sh next to this file (any JDK 21+, --release 21).
package splade_lite;

import io.anserini.analysis.DefaultEnglishAnalyzer;
import io.anserini.search.query.BagOfWordsQueryGenerator;
import io.anserini.search.similarity.ImpactSimilarity;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.search.similarities.Similarity;
import org.apache.lucene.store.FSDirectory;

public final class TopHits implements Closeable {
  private static final String ID = "id";
  // Ties broken by ascending docid, as Anserini's own searchers do (so runs are identical).
  private static final Sort BY_SCORE_THEN_ID =
      new Sort(SortField.FIELD_SCORE, new SortField(ID, SortField.Type.STRING_VAL));
  private final DirectoryReader reader;
  private final IndexSearcher searcher;
  private final List<LeafReaderContext> leaves;
  private final String field;
  private final Analyzer analyzer; // null: impact queries

  private TopHits(String indexDir, String field, Similarity similarity, Analyzer analyzer)
      throws IOException {
    this.reader = DirectoryReader.open(FSDirectory.open(Paths.get(indexDir)));
    this.searcher = new IndexSearcher(reader);
    this.searcher.setSimilarity(similarity);
    this.leaves = reader.leaves();
    this.field = field;
    this.analyzer = analyzer;
  }

  /** An impact index: score = sum of query weight x stored impact. */
  public static TopHits impact(String indexDir, String field) throws IOException {
    return new TopHits(indexDir, field, new ImpactSimilarity(), null);
  }

  /** A BM25 index with Anserini's default English analyzer (Porter, stopwords). */
  public static TopHits bm25(String indexDir, String field, float k1, float b)
      throws IOException {
    return new TopHits(
        indexDir, field, new BM25Similarity(k1, b), DefaultEnglishAnalyzer.newDefaultInstance());
  }

  public int numDocs() {
    return reader.numDocs();
  }

  /** Top k of one query (see the class comment for its form); "" when nothing matches. */
  public String search(String query, int k) throws IOException {
    Query built = analyzer == null ? termsQuery(query) : textQuery(query);
    if (built == null) {
      return "";
    }
    return render(searcher.search(built, k, BY_SCORE_THEN_ID, true));
  }

  /** search() for many queries on `threads` threads, results in input order. */
  public String[] searchAll(String[] queries, int k, int threads) throws Exception {
    String[] out = new String[queries.length];
    if (threads <= 1 || queries.length <= 1) {
      for (int i = 0; i < queries.length; i++) {
        out[i] = search(queries[i], k);
      }
      return out;
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<String>> futures = new ArrayList<>();
      for (String query : queries) {
        futures.add(pool.submit(() -> search(query, k)));
      }
      for (int i = 0; i < out.length; i++) {
        out[i] = futures.get(i).get();
      }
    } finally {
      pool.shutdown();
    }
    return out;
  }

  private Query termsQuery(String encoded) {
    String[] parts = encoded.trim().isEmpty() ? new String[0] : encoded.trim().split(" ");
    if (parts.length % 2 != 0) {
      throw new IllegalArgumentException("impact query must be 'term weight' pairs");
    }
    if (parts.length == 0) {
      return null;
    }
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (int i = 0; i < parts.length; i += 2) {
      float weight = Float.parseFloat(parts[i + 1]);
      Query term = new TermQuery(new Term(field, parts[i]));
      builder.add(new BoostQuery(term, weight), BooleanClause.Occur.SHOULD);
    }
    return builder.build();
  }

  private Query textQuery(String text) {
    return new BagOfWordsQueryGenerator().buildQuery(field, analyzer, text);
  }

  private String render(TopDocs top) throws IOException {
    StringBuilder out = new StringBuilder(top.scoreDocs.length * 24);
    for (ScoreDoc hit : top.scoreDocs) {
      LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(hit.doc, leaves));
      BinaryDocValues ids = leaf.reader().getBinaryDocValues(ID);
      if (ids == null || !ids.advanceExact(hit.doc - leaf.docBase)) {
        throw new IOException("document " + hit.doc + " has no '" + ID + "' doc value");
      }
      out.append(ids.binaryValue().utf8ToString()).append('\t').append(hit.score).append('\n');
    }
    return out.toString();
  }

  @Override
  public void close() throws IOException {
    reader.close();
  }
}
