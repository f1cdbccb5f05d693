// Inference-free queries built in Java: text -> WordPiece tokens -> integer IDF weights.
//
// An inference-free search is so cheap in Lucene (tens of microseconds) that tokenizing the
// query in Python and sending it over as "term weight ..." text costs a third of it. This
// class does what splade_lite/encoders/fast_wordpiece.py and IdfQueryEncoder.quantized_terms
// do, for the texts that shortcut covers: ASCII text holding no added token (such as
// "[CLS]"). Everything else gets null, and the caller takes the Python path.
//
// Nothing about the tokenizer is assumed here: how each ASCII character is treated, whether
// text is lower-cased, the WordPiece settings, the vocabulary and the weights all come from
// Python, which checks this class against the real tokenizer before using it.
package splade_lite;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

public final class IdfQueries {
  private static final byte WORD = 0;
  private static final byte DROP = 1;
  private static final byte SPACE = 2;
  private static final byte PUNCT = 3;

  private final byte[] kind = new byte[128];
  private final boolean lower;
  private final String[] added;
  private final String[] terms; // token id -> index term
  private final int[] weights; // token id -> integer query weight (0: never in a query)
  private final Map<String, Integer> vocab;
  private final int unk;
  private final String prefix;
  private final int maxChars;
  private final int maxTerms; // 0: no limit

  /**
   * @param drop, space, punct the ASCII characters the tokenizer drops, treats as white space,
   *     and makes words of their own; every other ASCII character is part of a word
   * @param terms the vocabulary in id order (the WordPiece vocabulary and the index terms)
   * @param weights integer weight per token id; 0 leaves the token out of queries
   * @param maxTerms keep at most this many of a query's terms, the heaviest; 0: all
   */
  public IdfQueries(
      String drop,
      String space,
      String punct,
      boolean lower,
      String[] added,
      String[] terms,
      int[] weights,
      String unkToken,
      String prefix,
      int maxChars,
      int maxTerms) {
    if (terms.length != weights.length) {
      throw new IllegalArgumentException("one weight per term is needed");
    }
    mark(drop, DROP);
    mark(space, SPACE);
    mark(punct, PUNCT);
    this.lower = lower;
    this.added = added.clone();
    this.terms = terms.clone();
    this.weights = weights.clone();
    this.vocab = new HashMap<>(2 * terms.length);
    for (int i = 0; i < terms.length; i++) {
      vocab.putIfAbsent(terms[i], i);
    }
    Integer unkId = vocab.get(unkToken);
    this.unk = unkId == null ? -1 : unkId;
    this.prefix = prefix;
    this.maxChars = maxChars;
    this.maxTerms = maxTerms;
  }

  private void mark(String chars, byte as) {
    for (int i = 0; i < chars.length(); i++) {
      char c = chars.charAt(i);
      if (c >= 128) {
        throw new IllegalArgumentException("character classes are for ASCII only");
      }
      kind[c] = as;
    }
  }

  /** The query of `text` as "term weight ..." (what search() takes), or null: not handled. */
  public String encode(String text) {
    int[] ids = queryIds(text);
    if (ids == null) {
      return null;
    }
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      out.append(out.length() == 0 ? "" : " ").append(terms[id]).append(' ').append(weights[id]);
    }
    return out.toString();
  }

  /** The impact query of `text` (empty: no weighted token), or null: not handled. */
  ImpactQuery weighted(String text) {
    int[] ids = queryIds(text);
    if (ids == null) {
      return null;
    }
    String[] queryTerms = new String[ids.length];
    long[] queryWeights = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      queryTerms[i] = terms[ids[i]];
      queryWeights[i] = weights[ids[i]];
    }
    return new ImpactQuery(queryTerms, queryWeights);
  }

  /**
   * The ids of the query's terms in ascending order: its distinct tokens that have a weight,
   * at most the `maxTerms` heaviest (ties to the term that sorts first, as Pruning.apply
   * does in Python); null when the text is not handled.
   */
  private int[] queryIds(String text) {
    int[] ids = distinctIds(text);
    if (ids == null) {
      return null;
    }
    int kept = 0;
    for (int id : ids) {
      if (weights[id] > 0) {
        ids[kept++] = id;
      }
    }
    if (maxTerms <= 0 || kept <= maxTerms) {
      return Arrays.copyOf(ids, kept);
    }
    Integer[] ranked = new Integer[kept];
    for (int i = 0; i < kept; i++) {
      ranked[i] = ids[i];
    }
    Arrays.sort(
        ranked,
        (a, b) ->
            weights[a] != weights[b]
                ? Integer.compare(weights[b], weights[a])
                : TopHits.compareCodePoints(terms[a], terms[b]));
    int[] heaviest = new int[maxTerms];
    for (int i = 0; i < maxTerms; i++) {
      heaviest[i] = ranked[i];
    }
    Arrays.sort(heaviest);
    return heaviest;
  }

  /** The distinct token ids of `text` in ascending order, or null when it is not handled. */
  private int[] distinctIds(String text) {
    int n = text.length();
    for (int i = 0; i < n; i++) {
      if (text.charAt(i) >= 128) {
        return null;
      }
    }
    String lowered = text.toLowerCase(java.util.Locale.ROOT);
    for (String token : added) {
      if (text.contains(token) || lowered.contains(token)) {
        return null; // the tokenizer matches added tokens before it splits words
      }
    }
    String source = lower ? lowered : text;
    int[] ids = new int[n + 1]; // a character gives at most one token
    int count = 0;
    StringBuilder word = new StringBuilder();
    for (int i = 0; i <= n; i++) {
      byte k = i < n ? kind[source.charAt(i)] : SPACE;
      if (k == WORD) {
        word.append(source.charAt(i));
      } else if (k != DROP) { // a dropped character is removed before words are split
        if (word.length() > 0) {
          count = pieces(word.toString(), ids, count);
          word.setLength(0);
        }
        if (k == PUNCT) {
          count = pieces(String.valueOf(source.charAt(i)), ids, count);
        }
      }
    }
    int[] sorted = Arrays.copyOf(ids, count);
    Arrays.sort(sorted);
    int distinct = 0;
    for (int i = 0; i < count; i++) {
      if (i == 0 || sorted[i] != sorted[i - 1]) {
        sorted[distinct++] = sorted[i];
      }
    }
    return Arrays.copyOf(sorted, distinct);
  }

  /**
   * WordPiece: greedy longest match first, the continuation prefix on all but the first piece;
   * a word with a part that matches nothing (or too long) is the unknown token alone. Appends
   * the ids to `out` from `count` and returns the new count.
   */
  private int pieces(String word, int[] out, int count) {
    if (word.length() > maxChars) {
      return unknown(out, count);
    }
    int first = count;
    int start = 0;
    while (start < word.length()) {
      int end = word.length();
      Integer found = null;
      while (start < end) {
        String piece = word.substring(start, end);
        found = vocab.get(start > 0 ? prefix + piece : piece);
        if (found != null) {
          break;
        }
        end--;
      }
      if (found == null) {
        return unknown(out, first);
      }
      out[count++] = found;
      start = end;
    }
    return count;
  }

  private int unknown(int[] out, int count) {
    if (unk >= 0) {
      out[count++] = unk;
    }
    return count;
  }
}
