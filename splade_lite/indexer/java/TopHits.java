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
// Impact scores are exact integers: Lucene's float32 scores are kept only when the best one
// is below 2^24 (then every score is an exact integer, see topImpact); otherwise the query is
// scored again with 64-bit sums by ImpactQuery.exactTop. k is capped at the number of
// documents, so a huge k costs no more than a k of the index's size.
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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TermStates;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.FieldDoc;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopFieldCollector;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.search.similarities.Similarity;
import org.apache.lucene.store.FSDirectory;

public final class TopHits implements Closeable {
  private static final String ID = "id";
  // Below this every integer is an exact float32 (and Lucene sums term scores in doubles).
  private static final float EXACT_FLOAT_LIMIT = 1 << 24;
  // Ties broken by ascending docid, as Anserini's own searchers do (so runs are identical).
  private static final Sort BY_SCORE_THEN_ID =
      new Sort(SortField.FIELD_SCORE, new SortField(ID, SortField.Type.STRING_VAL));
  private final IndexReader reader;
  private final IndexSearcher searcher;
  private final List<LeafReaderContext> leaves;
  private final String field;
  private final Analyzer analyzer; // null: impact queries

  private TopHits(String indexDir, String field, Similarity similarity, Analyzer analyzer)
      throws IOException {
    this.reader = open(indexDir);
    this.searcher = new IndexSearcher(reader);
    this.searcher.setSimilarity(similarity);
    this.leaves = reader.leaves();
    this.field = field;
    this.analyzer = analyzer;
  }

  /**
   * One Lucene index folder, or several given as one string with a newline between folders:
   * the shards of one index, read together through a MultiReader in that order. Lucene's
   * statistics over a MultiReader (document frequencies, document counts, lengths) are the
   * sums over its shards, so BM25 scores are those of one index over the same documents.
   */
  static IndexReader open(String indexDirs) throws IOException {
    String[] dirs = indexDirs.split("\n");
    if (dirs.length == 1) {
      return DirectoryReader.open(FSDirectory.open(Paths.get(dirs[0])));
    }
    IndexReader[] shards = new IndexReader[dirs.length];
    try {
      for (int i = 0; i < dirs.length; i++) {
        shards[i] = DirectoryReader.open(FSDirectory.open(Paths.get(dirs[i])));
      }
    } catch (IOException | RuntimeException e) {
      for (IndexReader shard : shards) {
        if (shard != null) {
          shard.close();
        }
      }
      throw e;
    }
    return new MultiReader(shards, true);
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

  // false: every matching document is scored, none skipped (the reference that the skipping
  // search is tested equal to, and measured against).
  private volatile boolean skipping = true;

  /**
   * Whether searches skip documents that cannot enter the top k (Lucene's block-max
   * WAND/MaxScore through the collector's minimum competitive score). On by default.
   */
  public void setSkipping(boolean on) {
    skipping = on;
  }

  public int numDocs() {
    return reader.numDocs();
  }

  /** Top k of one query (see the class comment for its form); "" when nothing matches. */
  public String search(String query, int k) throws IOException {
    return render(top(query, k), k);
  }

  /**
   * Top k of an inference-free query text, tokenized and weighted by `queries` in Java; null
   * when `queries` does not handle the text (the caller encodes it and calls search()).
   */
  public String searchText(IdfQueries queries, String text, int k) throws IOException {
    ImpactQuery built = queries.weighted(text);
    return built == null ? null : render(topImpact(built, k), k);
  }

  private static String render(Ranked[] hits, int k) {
    int n = Math.min(k, hits.length);
    StringBuilder out = new StringBuilder((int) Math.min(n * 24L, 1 << 24));
    for (int i = 0; i < n; i++) {
      out.append(hits[i].id).append('\t');
      if (hits[i].exact) {
        out.append(hits[i].integer);
      } else {
        out.append(hits[i].score);
      }
      out.append('\n');
    }
    return out.toString();
  }

  /**
   * Fuse the top `depth` of `sparse` (impact query) and `lexical` (BM25 text) and return the
   * top k, rendered like search(); scores are doubles. Both searches and the fusion run in
   * one call, so a hybrid query crosses from Python once. The arithmetic is that of
   * splade_lite/fusion.py (min-max interpolation or RRF, ties by docid), tested to agree.
   *
   * @param rrfK reciprocal rank fusion's k; a negative value asks for interpolation with
   *     weight alpha on the sparse list.
   */
  public static String hybrid(
      TopHits sparse,
      String sparseQuery,
      TopHits lexical,
      String text,
      int depth,
      int k,
      double alpha,
      int rrfK,
      boolean concurrently)
      throws IOException {
    Ranked[] first;
    Ranked[] second;
    if (concurrently) { // BM25 on a helper thread while this one runs the sparse search
      Future<Ranked[]> lexicalHits = helper().submit(() -> lexical.top(text, depth));
      first = sparse.top(sparseQuery, depth);
      second = await(lexicalHits);
    } else {
      first = sparse.top(sparseQuery, depth);
      second = lexical.top(text, depth);
    }
    return fuse(first, second, k, alpha, rrfK);
  }

  /**
   * hybrid() with the sparse query made from `text` by `queries` in Java (no concurrency);
   * null when `queries` does not handle the text (the caller encodes it and calls hybrid()).
   */
  public static String hybridText(
      TopHits sparse,
      IdfQueries queries,
      TopHits lexical,
      String text,
      int depth,
      int k,
      double alpha,
      int rrfK)
      throws IOException {
    ImpactQuery built = queries.weighted(text);
    if (built == null) {
      return null;
    }
    return fuse(sparse.topImpact(built, depth), lexical.top(text, depth), k, alpha, rrfK);
  }

  /** The top k of the fusion of two rankings, rendered like search(). */
  private static String fuse(Ranked[] first, Ranked[] second, int k, double alpha, int rrfK) {
    Map<String, double[]> fused = new HashMap<>(2 * (first.length + second.length));
    if (rrfK < 0) {
      addMinMax(fused, first, alpha);
      addMinMax(fused, second, 1.0 - alpha);
    } else {
      addReciprocalRanks(fused, first, rrfK);
      addReciprocalRanks(fused, second, rrfK);
    }
    Ranked[] all = new Ranked[fused.size()];
    int n = 0;
    for (Map.Entry<String, double[]> e : fused.entrySet()) {
      all[n++] = new Ranked(e.getKey(), e.getValue()[0]);
    }
    Arrays.sort(all, TopHits::bestFirst);
    return render(all, k);
  }

  /** hybrid() for many queries on `threads` threads, results in input order. */
  public static String[] hybridAll(
      TopHits sparse,
      String[] sparseQueries,
      TopHits lexical,
      String[] texts,
      int depth,
      int k,
      double alpha,
      int rrfK,
      int threads)
      throws Exception {
    if (sparseQueries.length != texts.length) {
      throw new IllegalArgumentException("one sparse query per text is needed");
    }
    return map(
        texts.length,
        threads,
        i -> hybrid(sparse, sparseQueries[i], lexical, texts[i], depth, k, alpha, rrfK, false));
  }

  /** hybridText() for many texts on `threads` threads (null for each text not handled). */
  public static String[] hybridAllText(
      TopHits sparse,
      IdfQueries queries,
      TopHits lexical,
      String[] texts,
      int depth,
      int k,
      double alpha,
      int rrfK,
      int threads)
      throws Exception {
    return map(
        texts.length,
        threads,
        i -> hybridText(sparse, queries, lexical, texts[i], depth, k, alpha, rrfK));
  }

  /** One search of a batch, by its position. */
  private interface Task {
    String run(int i) throws Exception;
  }

  /** task(0 .. n-1) on `threads` threads (here when one would do), results in input order. */
  private static String[] map(int n, int threads, Task task) throws Exception {
    String[] out = new String[n];
    if (threads <= 1 || n <= 1) {
      for (int i = 0; i < n; i++) {
        out[i] = task.run(i);
      }
      return out;
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<String>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        final int q = i;
        futures.add(pool.submit(() -> task.run(q)));
      }
      for (int i = 0; i < n; i++) {
        out[i] = futures.get(i).get();
      }
    } catch (ExecutionException e) { // the task's own exception, not the pool's wrapper
      Throwable cause = e.getCause();
      throw cause instanceof Exception ? (Exception) cause : e;
    } finally {
      pool.shutdown();
    }
    return out;
  }

  private static ExecutorService helperThreads;

  /** Daemon threads for the second search of a single hybrid query (made on first use). */
  private static synchronized ExecutorService helper() {
    if (helperThreads == null) {
      helperThreads =
          Executors.newCachedThreadPool(
              task -> {
                Thread thread = new Thread(task, "splade-lite-hybrid");
                thread.setDaemon(true); // never keeps the JVM (and Python) from exiting
                return thread;
              });
    }
    return helperThreads;
  }

  private static Ranked[] await(Future<Ranked[]> future) throws IOException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while searching", e);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException) {
        throw (IOException) cause;
      }
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      throw new IOException(cause);
    }
  }

  /** One hit: a document id and its score (exact: an integer impact score, shown as such). */
  static final class Ranked {
    final String id;
    final double score; // for ranking and fusion (equal to `integer` up to 2^53)
    final boolean exact;
    final long integer; // the exact score, when `exact`

    Ranked(String id, double score) {
      this.id = id;
      this.score = score;
      this.exact = false;
      this.integer = 0;
    }

    Ranked(String id, long score) {
      this.id = id;
      this.score = score;
      this.exact = true;
      this.integer = score;
    }
  }

  /** Higher score first, then docid in code point order (Python's str order). */
  private static int bestFirst(Ranked a, Ranked b) {
    int byScore = Double.compare(b.score, a.score);
    if (byScore != 0) {
      return byScore;
    }
    return compareCodePoints(a.id, b.id);
  }

  /** Code point order of two strings (Python's str order). */
  static int compareCodePoints(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  /** weight x (s - min) / (max - min) into fused; a list of equal scores counts 1 each. */
  private static void addMinMax(Map<String, double[]> fused, Ranked[] ranked, double weight) {
    if (ranked.length == 0) {
      return;
    }
    double low = Double.POSITIVE_INFINITY;
    double high = Double.NEGATIVE_INFINITY;
    for (Ranked hit : ranked) {
      low = Math.min(low, hit.score);
      high = Math.max(high, hit.score);
    }
    double span = high - low;
    for (Ranked hit : ranked) {
      double normalised = span == 0 ? 1.0 : (hit.score - low) / span;
      fused.computeIfAbsent(hit.id, id -> new double[1])[0] += weight * normalised;
    }
  }

  private static void addReciprocalRanks(Map<String, double[]> fused, Ranked[] ranked, int k) {
    for (int rank = 1; rank <= ranked.length; rank++) {
      double reciprocal = 1.0 / ((double) k + rank); // in doubles: k + rank may pass 2^31
      fused.computeIfAbsent(ranked[rank - 1].id, id -> new double[1])[0] += reciprocal;
    }
  }

  /** The top k of one query as (id, score) pairs; none for a query without terms. */
  private Ranked[] top(String query, int k) throws IOException {
    if (query == null || query.isBlank() || k <= 0) {
      return new Ranked[0];
    }
    return analyzer == null ? topImpact(ImpactQuery.parse(query), k) : top(textQuery(query), k);
  }

  /**
   * The top k of an impact query with exact integer scores. Lucene ranks first; its scores
   * are products of integer weights summed in doubles and rounded once to float32, so when
   * the best is below 2^24 every score is exact (a score of 2^24 or more could not round to
   * less). Otherwise, or past Lucene's clause limit, ImpactQuery scores with 64-bit sums.
   */
  Ranked[] topImpact(ImpactQuery query, int k) throws IOException {
    if (query.size() == 0 || k <= 0) {
      return new Ranked[0];
    }
    if (query.size() <= IndexSearcher.getMaxClauseCount()) {
      Ranked[] hits = top(query.toLucene(this), k);
      if (hits.length == 0 || hits[0].score < EXACT_FLOAT_LIMIT) {
        for (int i = 0; i < hits.length; i++) {
          hits[i] = new Ranked(hits[i].id, (long) hits[i].score);
        }
        return hits;
      }
    }
    return query.exactTop(leaves, field, ID, Math.min(k, Math.max(reader.maxDoc(), 1)));
  }

  /** The top k of a built query, k capped at the number of documents. */
  private Ranked[] top(Query built, int k) throws IOException {
    k = Math.min(k, reader.maxDoc()); // the collector allocates k slots up front
    if (built == null || k <= 0) {
      return new Ranked[0];
    }
    // Counting hits exactly stops at k (IndexSearcher's default counts to 1,000 first), so
    // Lucene skips documents that cannot reach the top k from the start. A document scoring
    // exactly the k-th score is never skipped, so ties still resolve by docid.
    TopFieldCollector collector =
        TopFieldCollector.create(BY_SCORE_THEN_ID, k, skipping ? k : Integer.MAX_VALUE);
    try {
      searcher.search(built, collector);
    } catch (IndexSearcher.TooManyClauses e) {
      throw tooManyTerms();
    }
    ScoreDoc[] hits = collector.topDocs().scoreDocs;
    Ranked[] out = new Ranked[hits.length];
    for (int i = 0; i < hits.length; i++) {
      float score = (Float) ((FieldDoc) hits[i]).fields[0]; // the sort's relevance field
      out[i] = new Ranked(idOf(hits[i].doc), score);
    }
    return out;
  }

  private static IllegalArgumentException tooManyTerms() {
    return new IllegalArgumentException(
        "the query has more distinct terms than Lucene's limit of "
            + IndexSearcher.getMaxClauseCount()
            + " clauses");
  }

  private String idOf(int doc) throws IOException {
    LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc, leaves));
    BinaryDocValues ids = leaf.reader().getBinaryDocValues(ID);
    if (ids == null || !ids.advanceExact(doc - leaf.docBase)) {
      throw new IOException("document " + doc + " has no '" + ID + "' doc value");
    }
    return ids.binaryValue().utf8ToString();
  }

  /** search() for many queries on `threads` threads, results in input order. */
  public String[] searchAll(String[] queries, int k, int threads) throws Exception {
    return map(queries.length, threads, i -> search(queries[i], k));
  }

  /** searchText() for many texts on `threads` threads (null for each text not handled). */
  public String[] searchAllText(IdfQueries queries, String[] texts, int k, int threads)
      throws Exception {
    return map(texts.length, threads, i -> searchText(queries, texts[i], k));
  }

  /**
   * weight x (the term's impact) on the impact field. Where a term's postings start in each
   * segment is looked up in the term dictionary once and kept (the index never changes
   * under this reader), so a query does not pay a dictionary seek per term each time.
   */
  Query weightedTerm(String token, float weight) {
    Term term = new Term(field, token);
    TermStates states = termStates.get(token);
    if (states == null) {
      try {
        states = TermStates.build(searcher, term, true);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      if (termStates.size() < MAX_CACHED_TERMS) {
        termStates.put(token, states);
      }
    }
    return new BoostQuery(new TermQuery(term, states), weight);
  }

  private static final int MAX_CACHED_TERMS = 1 << 20;
  private final Map<String, TermStates> termStates = new ConcurrentHashMap<>();

  private Query textQuery(String text) {
    try {
      return new BagOfWordsQueryGenerator().buildQuery(field, analyzer, text);
    } catch (IndexSearcher.TooManyClauses e) {
      throw tooManyTerms();
    }
  }

  @Override
  public void close() throws IOException {
    reader.close();
  }
}
