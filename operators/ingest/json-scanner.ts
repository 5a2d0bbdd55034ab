/**
 * A streaming JSON scanner that cuts the elements out of one array without parsing the whole document:
 * either a root array (`[{…},{…}]`, a JSON feed) or the `value` array of an OData page
 * (`{"value":[…],"@odata.nextLink":"…"}`), whose `@odata.nextLink` it also picks up.
 *
 * It tracks only nesting depth and strings, so memory is bounded by the largest element (`maxElementChars`).
 * Each element's text is handed over as is; the caller parses it, so one bad element is one reject,
 * while a broken frame (no array, unterminated document, trailing data) is a `JsonFrameError` for the feed.
 */

export interface JsonElement {
  /** The element's original text, trimmed. */
  readonly text: string;
  /** 1-based line on which it starts. */
  readonly line: number;
}

export class JsonFrameError extends Error {}

export type JsonScanMode = 'array' | 'odata';

export class JsonArrayScanner {
  private depth = 0;
  private inString = false;
  private escape = false;
  private rootSeen = false;
  private rootClosed = false;
  /** Depth at which elements live while inside the target array; 0 when not inside it. */
  private elementDepth = 0;
  private capturing = false;
  private captured = '';
  private captureLine = 0;
  private line = 1;
  // OData: the root object's keys and string values.
  private expectKey = false;
  private currentKey = '';
  private rootString: string | null = null;
  private valueArraySeen = false;
  /** `@odata.nextLink` of the page, when present. */
  nextLink: string | undefined;

  constructor(
    private readonly mode: JsonScanMode,
    private readonly maxElementChars: number,
  ) {}

  /** Feeds one chunk of text; returns the elements completed in it. */
  push(chunk: string): JsonElement[] {
    const out: JsonElement[] = [];
    let capStart = this.capturing ? 0 : -1;
    let strStart = this.rootString !== null ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 92 /* \ */) this.escape = true;
        else if (c === 34 /* " */) {
          this.inString = false;
          if (this.rootString !== null) {
            this.rootString += chunk.slice(strStart, i + 1);
            this.onRootString(this.rootString);
            this.rootString = null;
            strStart = -1;
          }
        }
        continue;
      }
      if (c === 10) {
        this.line++;
        continue;
      }
      if (c === 32 || c === 9 || c === 13) continue;
      if (this.rootClosed)
        throw new JsonFrameError(`unexpected data after the end of the document on line ${this.line}`);
      if (!this.rootSeen) {
        const want = this.mode === 'array' ? 91 /* [ */ : 123; /* { */
        if (c !== want) {
          throw new JsonFrameError(
            `expected the document to start with ${this.mode === 'array' ? "'[' (a JSON array)" : "'{' (an OData page object)"} but found ${JSON.stringify(chunk[i])} on line ${this.line}`,
          );
        }
        this.rootSeen = true;
        this.depth = 1;
        if (this.mode === 'array') this.elementDepth = 1;
        else this.expectKey = true;
        continue;
      }
      const atElementLevel = this.elementDepth > 0 && this.depth === this.elementDepth;
      if (atElementLevel && !this.capturing && c !== 44 /* , */ && c !== 93 /* ] */) {
        this.capturing = true;
        this.captured = '';
        this.captureLine = this.line;
        capStart = i;
      }
      if (c === 34) {
        this.inString = true;
        if (this.mode === 'odata' && this.depth === 1) {
          this.rootString = '';
          strStart = i;
        }
        continue;
      }
      if (c === 123 || c === 91) {
        if (this.mode === 'odata' && this.depth === 1 && c === 91 && this.currentKey === 'value' && !this.expectKey) {
          this.elementDepth = 2;
          this.valueArraySeen = true;
        }
        this.depth++;
        continue;
      }
      if (c === 44 || c === 93 || c === 125) {
        if (atElementLevel && this.capturing) {
          out.push(this.finishElement(chunk.slice(capStart, i)));
          capStart = -1;
        }
        if (c === 44) {
          if (this.mode === 'odata' && this.depth === 1) this.expectKey = true;
          continue;
        }
        this.depth--;
        if (this.elementDepth > 0 && this.depth < this.elementDepth) this.elementDepth = 0;
        if (this.depth === 0) this.rootClosed = true;
        continue;
      }
      if (c === 58 /* : */ && this.mode === 'odata' && this.depth === 1) this.expectKey = false;
    }
    if (this.capturing && capStart >= 0) {
      this.captured += chunk.slice(capStart);
      if (this.captured.length > this.maxElementChars) {
        throw new JsonFrameError(
          `the element starting on line ${this.captureLine} is longer than ${this.maxElementChars} characters`,
        );
      }
    }
    if (this.rootString !== null && strStart >= 0) {
      this.rootString += chunk.slice(strStart);
      if (this.rootString.length > 64 * 1024) throw new JsonFrameError('an OData page key or value is too long');
    }
    return out;
  }

  /** Call at the end of the input: checks that the document was complete. */
  end(): void {
    if (!this.rootSeen) throw new JsonFrameError('the document is empty');
    if (!this.rootClosed) {
      throw new JsonFrameError(
        this.inString
          ? `the document ends inside a string (line ${this.line})`
          : `the document ends before its closing bracket (line ${this.line})`,
      );
    }
    if (this.mode === 'odata' && !this.valueArraySeen) {
      throw new JsonFrameError('the OData page has no "value" array');
    }
  }

  private finishElement(tail: string): JsonElement {
    const text = (this.captured + tail).trim();
    this.capturing = false;
    this.captured = '';
    if (text.length > this.maxElementChars) {
      throw new JsonFrameError(
        `the element starting on line ${this.captureLine} is longer than ${this.maxElementChars} characters`,
      );
    }
    return { text, line: this.captureLine };
  }

  private onRootString(raw: string): void {
    let s: string;
    try {
      s = JSON.parse(raw) as string;
    } catch {
      throw new JsonFrameError(`invalid string ${raw.slice(0, 80)} in the OData page`);
    }
    if (this.expectKey) {
      this.currentKey = s;
    } else if (this.currentKey === '@odata.nextLink') {
      this.nextLink = s;
    }
  }
}
