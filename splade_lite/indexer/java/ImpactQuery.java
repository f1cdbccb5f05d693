// An impact query (index terms with integer weights) and its exact top k.
//
// Lucene scores in float32, which holds every integer only up to 2^24. Past that, two
// documents whose integer scores differ can get the same float (a tie then broken by docid
// puts them in the wrong order), and the score shown is not the sum `explain` adds up. Here
// documents are scored with 64-bit integers instead, reading every posting of the query's
// terms (no early termination), so TopHits calls exactTop() only where Lucene's own scores
// might be inexact, or where a query has more terms than Lucene's clause limit.
package splade_lite;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;

final class ImpactQuery {
  /** Weights are Java ints on the Python side and in Lucene's term frequencies. */
  static final long MAX_WEIGHT = Integer.MAX_VALUE;

  static final ImpactQuery EMPTY = new ImpactQuery(new String[0], new long[0]);

  final String[] terms;
  final long[] weights;

  ImpactQuery(String[] terms, long[] weights) {
    if (terms.length != weights.length) {
      throw new IllegalArgumentException("one weight per term is needed");
    }
    this.terms = terms;
    this.weights = weights;
  }

  /** "term weight term weight ..." (what Python sends), each weight in 1 .. 2^31-1. */
  static ImpactQuery parse(String encoded) {
    String trimmed = encoded == null ? "" : encoded.trim();
    if (trimmed.isEmpty()) {
      return EMPTY;
    }
    String[] parts = trimmed.split(" ");
    if (parts.length % 2 != 0) {
      throw new IllegalArgumentException("impact query must be 'term weight' pairs");
    }
    String[] terms = new String[parts.length / 2];
    long[] weights = new long[terms.length];
    for (int i = 0; i < terms.length; i++) {
      terms[i] = parts[2 * i];
      long weight = Long.parseLong(parts[2 * i + 1]);
      if (terms[i].isEmpty() || weight < 1 || weight > MAX_WEIGHT) {
        throw new IllegalArgumentException(
            "query term '" + terms[i] + "' needs a weight in 1 .. " + MAX_WEIGHT + ", not " + weight);
      }
      weights[i] = weight;
    }
    return new ImpactQuery(terms, weights);
  }

  int size() {
    return terms.length;
  }

  /** The query as Lucene's disjunction of weighted terms (float scores). */
  Query toLucene(TopHits index) {
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (int i = 0; i < terms.length; i++) {
      builder.add(index.weightedTerm(terms[i], (float) weights[i]), BooleanClause.Occur.SHOULD);
    }
    return builder.build();
  }

  /** A document that matched, its id bytes (for ties) and its exact score. */
  private static final class Candidate {
    final BytesRef id;
    final long score;

    Candidate(BytesRef id, long score) {
      this.id = id;
      this.score = score;
    }
  }

  /** One term's postings in one segment, with its query weight. */
  private static final class Cursor {
    final PostingsEnum postings;
    final long weight;
    int doc;

    Cursor(PostingsEnum postings, long weight) throws IOException {
      this.postings = postings;
      this.weight = weight;
      this.doc = postings.nextDoc();
    }
  }

  /** Lower score first, then the larger id (the order in which hits drop out of a top k). */
  private static int worseFirst(Candidate a, Candidate b) {
    int byScore = Long.compare(a.score, b.score);
    return byScore != 0 ? byScore : b.id.compareTo(a.id);
  }

  /**
   * The top k by exact score, ties by ascending id (UTF-8 byte order, which is code point
   * order, as Lucene's STRING_VAL sort and Python's str order).
   */
  TopHits.Ranked[] exactTop(List<LeafReaderContext> leaves, String field, String idField, int k)
      throws IOException {
    PriorityQueue<Candidate> best = new PriorityQueue<>(Math.min(k, 1024), ImpactQuery::worseFirst);
    for (LeafReaderContext leaf : leaves) {
      scoreLeaf(leaf.reader(), field, idField, k, best);
    }
    TopHits.Ranked[] out = new TopHits.Ranked[best.size()];
    for (int i = out.length - 1; i >= 0; i--) {
      Candidate hit = best.poll();
      out[i] = new TopHits.Ranked(hit.id.utf8ToString(), hit.score);
    }
    return out;
  }

  /** Every document of one segment that holds a query term, merged in docid order. */
  private void scoreLeaf(
      LeafReader leaf, String field, String idField, int k, PriorityQueue<Candidate> best)
      throws IOException {
    Terms fieldTerms = leaf.terms(field);
    if (fieldTerms == null) {
      return;
    }
    TermsEnum dictionary = fieldTerms.iterator();
    List<Cursor> cursors = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      if (dictionary.seekExact(new BytesRef(terms[i]))) {
        cursors.add(new Cursor(dictionary.postings(null, PostingsEnum.FREQS), weights[i]));
      }
    }
    if (cursors.isEmpty()) {
      return;
    }
    PriorityQueue<Cursor> byDoc =
        new PriorityQueue<>(cursors.size(), Comparator.comparingInt((Cursor c) -> c.doc));
    byDoc.addAll(cursors);
    BinaryDocValues ids = leaf.getBinaryDocValues(idField);
    Bits live = leaf.getLiveDocs();
    while (byDoc.peek().doc != DocIdSetIterator.NO_MORE_DOCS) {
      int doc = byDoc.peek().doc;
      long score = 0;
      while (byDoc.peek().doc == doc) {
        Cursor cursor = byDoc.poll();
        score = add(score, cursor.weight, cursor.postings.freq());
        cursor.doc = cursor.postings.nextDoc();
        byDoc.add(cursor);
      }
      if ((live != null && !live.get(doc)) || (best.size() >= k && score < best.peek().score)) {
        continue;
      }
      if (ids == null || !ids.advanceExact(doc)) { // docs come in ascending order: forward only
        throw new IOException("document " + doc + " has no '" + idField + "' doc value");
      }
      Candidate candidate = new Candidate(BytesRef.deepCopyOf(ids.binaryValue()), score);
      if (best.size() < k) {
        best.add(candidate);
      } else if (worseFirst(best.peek(), candidate) < 0) {
        best.poll();
        best.add(candidate);
      }
    }
  }

  /**
   * score + weight x freq, refusing to wrap around. Lucene counts a document's frequencies
   * in an int, so with distinct terms of int weights a score stays below 2^62; only a query
   * repeating a term many times could get further.
   */
  private static long add(long score, long weight, int freq) {
    try {
      return Math.addExact(score, Math.multiplyExact(weight, (long) freq));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("an impact score does not fit a 64-bit integer", e);
    }
  }
}
