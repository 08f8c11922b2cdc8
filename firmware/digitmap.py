# Digit maps in the OBi / Grandstream syntax: after each dialled digit, is the
# number complete (send now or after a timer), can it still grow (wait), or can no
# rule ever match it (reorder now)? And what number to send, after <old:new> rewrites.
#
# Compiled once (at config load) into one array of 16-bit elements and a tuple per
# rule; matching runs a position-set automaton per rule whose state is a small int
# (bit i set = "element i is the next to match"), so no `re`, no per-rule objects.
#
# Syntax (docs/config.md):  (rule|rule|...)   or Grandstream's {rule|rule|...}
#   0-9 * #     that key              x          any digit 0-9
#   [2-9] [135] [x*]  one key of a set  .        the element before, zero or more times
#   +           the element before, one or more times (Grandstream's x+)
#   <old:new>   old (keys, may be empty) is dialled, new (keys or '+') is sent instead
#   S T         at the end of a rule: the rule's timer, short (S) or long (T); with a
#               digit, that many seconds (S0: send at once, even if more could follow)
from array import array

SEND = 0      # complete: send the number now
WAIT = 1      # wait `wait_ms`; then send if `rule` >= 0 (a full match), else reorder
REJECT = 2    # no rule can ever match: reorder tone now

MAX_RULES = 32      # rules per map
MAX_ELEMENTS = 29   # elements per rule: positions 0..29 fit a 30-bit small int (ESP32)
MAX_TEXT = 1024     # characters in a map

_KEYS = "0123456789*#"    # bit i of a mask = key _KEYS[i]
_ANY_DIGIT = 0x3FF
_MASK = 0xFFF
_REPEAT = 0x1000          # element matches zero or more keys
_DROP = 0x2000            # element is the old part of <old:new>: matched, not sent

_NO_TIMER = -1            # rule timer codes (>= 0: milliseconds)
_SHORT = -2
_LONG = -3


def _key_mask(ch):
    i = _KEYS.find(ch)
    return 0 if i < 0 else 1 << i


class DigitMap:
    def __init__(self, text, short_ms=2000, long_ms=4000):
        """Compile `text`; ValueError with the reason when it is not a digit map."""
        self.text = text
        self.short_ms = short_ms
        self.long_ms = long_ms
        self.wait_ms = 0      # set by step(): the timer to run before sending/rejecting
        self.rule = -1        # set by step(): the rule that fully matches, or -1
        self.el = array("H")
        self.rules = []       # (start, count, timer, inserts or None, open-ended)
        self._compile(text)
        self.rules = tuple(self.rules)

    # -- compiling ----------------------------------------------------------------
    def _compile(self, text):
        if len(text) > MAX_TEXT:
            raise ValueError("longer than %d characters" % MAX_TEXT)
        body = "".join(text.split())        # spaces and newlines are for reading
        if len(body) < 2 or (body[0], body[-1]) not in (("(", ")"), ("{", "}")):
            raise ValueError("must be rules inside ( ), e.g. (911|[2-9]xxxxxx|x.T)")
        alts = body[1:-1].split("|")
        if len(alts) > MAX_RULES:
            raise ValueError("more than %d rules" % MAX_RULES)
        for n, rule in enumerate(alts):
            try:
                self._rule(rule)
            except ValueError as e:
                raise ValueError("rule %d %r: %s" % (n + 1, rule, e))

    def _rule(self, rule):
        el = self.el
        start = len(el)
        inserts = []
        timer = _NO_TIMER
        is_open = False
        i = 0
        n = len(rule)
        while i < n:
            c = rule[i]
            if timer != _NO_TIMER:
                raise ValueError("a timer (S, T) ends a rule")
            if c == "x" or c == "X":
                el.append(_ANY_DIGIT)
            elif _key_mask(c):
                el.append(_key_mask(c))
            elif c == "[":
                j = rule.find("]", i)
                if j < 0:
                    raise ValueError("[ without ]")
                el.append(self._set(rule[i + 1:j]))
                i = j
            elif c == "." or c == "+":
                if len(el) == start or el[-1] & (_REPEAT | _DROP):
                    raise ValueError("'%s' must follow a key, x or [set]" % c)
                if c == ".":
                    el[-1] |= _REPEAT
                else:
                    el.append(el[-1] | _REPEAT)    # x+ = x x.
                is_open = True
            elif c == "<":
                j = rule.find(">", i)
                colon = rule.find(":", i)
                if j < 0 or colon < 0 or colon > j:
                    raise ValueError("a rewrite is <old:new>")
                old, new = rule[i + 1:colon], rule[colon + 1:j]
                for k in old:
                    if not _key_mask(k):
                        raise ValueError("<old:new>: old is keys (0-9 * #), got %r" % old)
                    el.append(_key_mask(k) | _DROP)
                for k in new:
                    if not (_key_mask(k) or k == "+"):
                        raise ValueError("<old:new>: new is keys or +, got %r" % new)
                if new:
                    inserts.append((len(el) - len(old) - start, new))
                i = j
            elif c == "S" or c == "T":
                if len(el) == start:
                    raise ValueError("a timer (S, T) ends a rule")
                if i + 1 < n and rule[i + 1].isdigit():
                    i += 1
                    timer = int(rule[i]) * 1000
                else:
                    timer = _SHORT if c == "S" else _LONG
            elif c in "(){}":
                raise ValueError("nested ( ) is not supported; list the alternatives as rules")
            else:
                raise ValueError("unexpected %r" % c)
            i += 1
        count = len(el) - start
        if count == 0:
            raise ValueError("matches nothing dialled")
        if count > MAX_ELEMENTS:
            raise ValueError("more than %d keys" % MAX_ELEMENTS)
        self.rules.append((start, count, timer, tuple(inserts) if inserts else None, is_open))

    @staticmethod
    def _set(body):
        mask = 0
        i = 0
        while i < len(body):
            c = body[i]
            if i + 2 < len(body) and body[i + 1] == "-":
                lo, hi = c, body[i + 2]
                if not (lo.isdigit() and hi.isdigit() and lo <= hi):
                    raise ValueError("bad range %s-%s in [ ]" % (lo, hi))
                for d in range(int(lo), int(hi) + 1):
                    mask |= 1 << d
                i += 3
                continue
            if c == "x" or c == "X":
                mask |= _ANY_DIGIT
            elif _key_mask(c):
                mask |= _key_mask(c)
            else:
                raise ValueError("unexpected %r in [ ]" % c)
            i += 1
        if not mask:
            raise ValueError("empty [ ]")
        return mask

    # -- matching -------------------------------------------------------------------
    def _closure(self, start, count, st):
        """Positions reachable without a key: past repeat elements (zero times)."""
        el = self.el
        for i in range(count):
            if st >> i & 1 and el[start + i] & _REPEAT:
                st |= 1 << (i + 1)
        return st

    def _advance(self, start, count, st, bit):
        el = self.el
        nst = 0
        for i in range(count):
            if st >> i & 1:
                e = el[start + i]
                if e & bit:
                    nst |= 1 << (i if e & _REPEAT else i + 1)
        return self._closure(start, count, nst) if nst else 0

    def _state(self, rule, digits, upto=-1):
        start, count = rule[0], rule[1]
        st = self._closure(start, count, 1)
        for k in range(len(digits) if upto < 0 else upto):
            bit = _key_mask(digits[k])
            st = self._advance(start, count, st, bit) if bit else 0
            if not st:
                return 0
        return st

    def step(self, digits):
        """Classify `digits` (all dialled so far): SEND, WAIT or REJECT; sets
        self.wait_ms (WAIT) and self.rule (the full match, -1 if none)."""
        full = -1
        full_open = True
        more = False
        rules = self.rules
        for r in range(len(rules)):
            rule = rules[r]
            st = self._state(rule, digits)
            if not st:
                continue
            count = rule[1]
            if st >> count & 1 and (full < 0 or (full_open and not rule[4])):
                full = r                 # a fixed-length rule beats an open one (x.)
                full_open = rule[4]
            if st & ((1 << count) - 1):
                more = True              # this rule could still take another key
        self.rule = full
        if full < 0:
            self.wait_ms = self.long_ms
            return WAIT if more else REJECT
        timer = self.rules[full][2]
        if timer >= 0:
            wait = timer
        elif timer == _LONG:
            wait = self.long_ms
        elif timer == _SHORT or more:
            wait = self.short_ms         # complete, yet a longer number could follow
        else:
            wait = 0                     # complete and nothing longer can match
        self.wait_ms = wait
        return WAIT if wait else SEND

    def number(self, digits, r=None):
        """The number to send for `digits`, which rule r (default: the last step's full
        match) matches: its <old:new> rewrites applied. Runs once per call."""
        rule = self.rules[self.rule if r is None else r]
        start, count, inserts = rule[0], rule[1], rule[3]
        el = self.el
        n = len(digits)
        # which element took each key: walk back from the end through the forward
        # states (a position set per prefix), so any path the automaton took is found
        states = [self._state(rule, digits, k) for k in range(n + 1)]
        taken = bytearray(n)
        pos = count
        for k in range(n - 1, -1, -1):
            bit = _key_mask(digits[k])
            for i in range(pos, -1, -1):
                if i >= count or not (states[k] >> i & 1) or not (el[start + i] & bit):
                    continue
                j = i if el[start + i] & _REPEAT else i + 1
                if j <= pos and all(el[start + m] & _REPEAT for m in range(j, pos)):
                    break
            else:
                raise ValueError("%r does not match the rule" % digits)
            taken[k] = i
            pos = i
        out = []
        ins = 0
        for k in range(n):
            while inserts and ins < len(inserts) and inserts[ins][0] <= taken[k]:
                out.append(inserts[ins][1])
                ins += 1
            if not el[start + taken[k]] & _DROP:
                out.append(digits[k])
        while inserts and ins < len(inserts):
            out.append(inserts[ins][1])
            ins += 1
        return "".join(out)
