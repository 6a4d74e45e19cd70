#!/usr/bin/env python3
"""harness/tools/mutate.py - operator mutants of a chapter's reference (make mutate CH=NN).

A developer's tool, not part of make test. It makes one small change at a time
to the reference files of a chapter (solutions/NN-topic/, the module and its
programs), builds each changed tree with the chapter's real build, runs the
chapter's tests on it, and lists the mutants no test caught (the survivors).

Operators, one change per mutant:
  rel      a comparison flipped or loosened: < <= > >= == !=
  logic    && and || swapped
  arith    binary + and - swapped; += and -= become =
  const    an integer constant off by one (N+1, N-1)
  neg      the minus of a -errno dropped (-EINVAL -> EINVAL, -errno -> errno)
  if       an if's condition made false (the check deleted)
  while    a while loop made an if (the wait or retry not repeated)
  stmt     a statement line deleted (a call, an assignment, a break, a goto)
  swap     the first two arguments of a call swapped

A survivor is either a mistake the tests should catch (write a test; keep the
mutant as a hand mutant in mutants/ if it is a mistake learners make) or an
equivalent mutant (the program means the same). Equivalent ones are listed,
with the reason, in harness/NN-topic/mutants/equivalent.tsv, one per line:

    FILE <TAB> original line <TAB> mutated line <TAB> why it is equivalent [<TAB> FUNCTION]

(lines compared with leading and trailing blanks removed; # starts a comment).
With a fifth field the entry covers that change only inside the function of
that name: the same line text elsewhere in the file is another mutant, which
may be a real mistake there. Without it, every line with that text.

Usage: mutate.py CH [--file F] [--only OP,...] [--function NAME] [--jobs N] [--limit N] [--keep]
(--function: only the lines of the functions whose names start with NAME, e.g.
the part of a reference a change touched; repeatable)
Writes build/mutate/NN/: summary.txt, survivors/*.diff (ready to become hand
mutants), log/. Exit 0 if no survivor is left unexplained.
"""
import argparse
import concurrent.futures as cf
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOKEN = re.compile(r"""
    (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<num>\b(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b)
  | (?P<op><<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|[-+<>=!&|(),;{}\[\]*/%?:~^.])
  | (?P<id>[A-Za-z_]\w*)
  | (?P<ws>\s+)
  | (?P<other>.)
""", re.X)


def tokens(line):
    return [(m.lastgroup, m.group(), m.start(), m.end()) for m in TOKEN.finditer(line)]


def code_lines(text):
    """(index, line) of lines that are code: not comments, not preprocessor."""
    out = []
    in_comment = False
    for i, line in enumerate(text.split("\n")):
        s = line.strip()
        if in_comment:
            if "*/" in s:
                in_comment = False
                s = s.split("*/", 1)[1].strip()
            else:
                continue
        if s.startswith("/*") and "*/" not in s:
            in_comment = True
            continue
        if not s or s.startswith("#") or s.startswith("//") or s.startswith("*") or s.startswith("/*"):
            continue
        out.append((i, line))
    return out


def strip_comment(line):
    """The line without a trailing comment (mutations never touch comments)."""
    for marker in ("/*", "//"):
        k = line.find(marker)
        if k >= 0 and line[:k].count('"') % 2 == 0:
            line = line[:k]
    return line


def call_args(line, open_at):
    """Spans of the top-level arguments of the call whose '(' is at open_at."""
    depth, start, spans = 0, open_at + 1, []
    for k in range(open_at, len(line)):
        c = line[k]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                spans.append((start, k))
                return spans
        elif c == "," and depth == 1:
            spans.append((start, k))
            start = k + 1
    return None


REL = {"<": ["<="], "<=": ["<"], ">": [">="], ">=": [">"], "==": ["!="], "!=": ["=="]}
KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "case", "do", "else"}
DECL_START = re.compile(r"^\s*(?:static\s+|const\s+|unsigned\s+|struct\s+\w+\s*\*?|enum\s+\w+|"
                        r"(?:int|long|char|size_t|ssize_t|off_t|bool|void|unsigned|short|double|float|"
                        r"u?int\d+_t|pthread_\w+|io_context_t|socklen_t)\b)")


def mutations(line):
    """Yield (operator, new line) for one line of code."""
    body = strip_comment(line)
    toks = tokens(body)
    sig = [t for t in toks if t[0] != "ws"]

    def repl(a, b, new):
        return line[:a] + new + line[b:]

    for n, (kind, text, a, b) in enumerate(sig):
        prev = sig[n - 1] if n else None
        if kind == "op" and text in REL:
            for new in REL[text]:
                yield "rel", repl(a, b, new)
        elif kind == "op" and text in ("&&", "||"):
            yield "logic", repl(a, b, "||" if text == "&&" else "&&")
        elif kind == "op" and text in ("+", "-") and prev and (
                prev[0] in ("id", "num") or prev[1] in (")", "]")) and prev[1] not in KEYWORDS:
            yield "arith", repl(a, b, "-" if text == "+" else "+")
        elif kind == "op" and text in ("+=", "-="):
            yield "arith", repl(a, b, "=")
        elif kind == "num":
            digits = re.match(r"(0[xX][0-9a-fA-F]+|\d+)(.*)", text)
            lit, suffix = digits.group(1), digits.group(2)
            if lit[:2] in ("0x", "0X"):
                value, form = int(lit, 16), "0x{:x}"
            elif len(lit) > 1 and lit[0] == "0":
                value, form = int(lit, 8), "0{:o}"
            else:
                value, form = int(lit), "{:d}"
            yield "const", repl(a, b, form.format(value + 1) + suffix)
            if value > 0:
                yield "const", repl(a, b, form.format(value - 1) + suffix)
        elif kind == "id" and re.fullmatch(r"E[A-Z0-9]+|errno", text) and prev and prev[1] == "-":
            yield "neg", line[:prev[2]] + line[prev[3]:]

    stripped = body.strip()
    m = re.match(r"^(\s*(?:\}\s*else\s+)?if\s*)\(", body)
    if m:
        spans = call_args(body, m.end() - 1)
        if spans:
            close = spans[-1][1]
            yield "if", line[:m.end() - 1] + "(0)" + line[close + 1:]
    m = re.match(r"^(\s*)while\s*\(", body)
    if m and not stripped.endswith(";"):
        yield "while", line[:m.end(1)] + "if (" + line[m.end():]
    if (stripped.endswith(";") and not DECL_START.match(body) and not stripped.startswith("return")
            and not stripped.startswith("}") and "=" not in stripped.split("(")[0].replace("==", "")
            or re.match(r"^(break|continue|goto\s+\w+);$", stripped)
            or re.match(r"^[\w.\->\[\]*]+\s*(?:[-+|&]?=|\+\+|--)", stripped) and stripped.endswith(";")
            and not DECL_START.match(body)):
        indent = line[:len(line) - len(line.lstrip())]
        yield "stmt", indent + "; /* deleted: " + stripped.replace("*/", "* /") + " */"

    definition = DECL_START.match(body) and not stripped.endswith(";") and "=" not in stripped
    for n, (kind, text, a, b) in enumerate(sig):
        if definition:
            break
        if kind == "id" and text not in KEYWORDS and n + 1 < len(sig) and sig[n + 1][1] == "(":
            spans = call_args(body, sig[n + 1][2])
            if spans and len(spans) >= 2:
                (a1, b1), (a2, b2) = spans[0], spans[1]
                x, y = body[a1:b1].strip(), body[a2:b2].strip()
                lead1 = body[a1:b1][:len(body[a1:b1]) - len(body[a1:b1].lstrip())]
                lead2 = body[a2:b2][:len(body[a2:b2]) - len(body[a2:b2].lstrip())]
                if x and y and x != y:
                    yield "swap", line[:a1] + lead1 + y + "," + lead2 + x + line[b2:]


def chapter_dir(ch):
    for d in sorted(os.listdir(os.path.join(ROOT, "harness"))):
        if re.fullmatch(r"\d\d-.*", d) and d.startswith(ch + "-"):
            return d
    sys.exit(f"mutate: no chapter {ch} in harness/")


def make_vars(chapter):
    out = subprocess.run(["make", "-s", "--no-print-directory", "-f", "harness/mk/chapter.mk",
                          f"ROOT={ROOT}", f"CHAPTER={chapter}", "IMPL_DIR=/nonexistent",
                          "OUT=/nonexistent", "sources"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.split()


def load_equivalent(chapter):
    """{(file, original, mutated): set of functions it covers, None for all}."""
    path = os.path.join(ROOT, "harness", chapter, "mutants", "equivalent.tsv")
    known = {}
    if os.path.exists(path):
        for raw in open(path):
            if not raw.strip() or raw.startswith("#"):
                continue
            parts = raw.rstrip("\n").split("\t")
            if len(parts) >= 4:
                where = parts[4].strip() if len(parts) >= 5 and parts[4].strip() else None
                known.setdefault((parts[0], parts[1].strip(), parts[2].strip()), set()).add(where)
            else:
                print(f"mutate: {path}: a line without four tab-separated fields: {raw.strip()}")
    return known


FUNCTION_HEAD = re.compile(r"^[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(")


def function_at(lines, i):
    """The name of the function whose body holds line i: the nearest line
    above it, at column 0, that opens a definition (a name, then "(", no ";"
    at its end). "" outside any function."""
    for k in range(i, -1, -1):
        line = lines[k]
        m = FUNCTION_HEAD.match(line)
        if m and not line.rstrip().endswith(";") and not line.startswith(("typedef", "struct", "enum")):
            return m.group(1)
        if line.startswith("}") and k != i:
            return ""
    return ""


def is_equivalent(equivalent, file, line, new, where):
    covers = equivalent.get((file, line.strip(), new.strip()))
    return bool(covers) and (None in covers or where in covers)


def grade(chapter, work, file, lineno, new_line, text, jobs_inner):
    """Build and test one mutant; returns (status, failing tests). A fault of
    this tool's own (a file gone: two runs in one build directory) is an
    "error", listed at the end, never a kill and never the end of the run."""
    try:
        return grade_one(chapter, work, file, lineno, new_line, text, jobs_inner)
    except Exception as e:  # noqa: BLE001 - reported, and the run goes on
        return "error", [f"{type(e).__name__}: {e}"]


def grade_one(chapter, work, file, lineno, new_line, text, jobs_inner):
    tree = tempfile.mkdtemp(dir=work, prefix="m.")
    try:
        impl = os.path.join(tree, "impl")
        shutil.copytree(os.path.join(ROOT, "solutions", chapter), impl)
        lines = text.split("\n")
        lines[lineno] = new_line
        with open(os.path.join(impl, file), "w") as f:
            f.write("\n".join(lines))
        out = os.path.join(tree, "out")
        b = subprocess.run(["make", "-s", "--no-print-directory", "-f", "harness/mk/chapter.mk",
                            f"ROOT={ROOT}", f"CHAPTER={chapter}", f"IMPL_DIR={impl}", f"OUT={out}",
                            # The run's own harness objects: a make check or another
                            # run beside this one never rebuilds them under it.
                            f"HARNESS_OUT={os.path.join(work, 'harness')}",
                            "tests", "programs"], cwd=ROOT, capture_output=True, text=True)
        if b.returncode != 0:
            return "stillborn", []
        tmp = os.path.join(tree, "tmp")
        os.mkdir(tmp)
        results = os.path.join(tree, "results.tsv")
        env = {k: v for k, v in os.environ.items() if k not in ("COPY", "SERVER")}
        with open(results, "w") as rf:
            env.update(GRADE_TMPDIR=tmp, GRADE_PROGRAMS=out, GRADE_RESULTS_FD=str(rf.fileno()))
            runner = subprocess.Popen([os.path.join(out, "tests"), "--fail-fast", f"-j{jobs_inner}"],
                                      cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, pass_fds=(rf.fileno(),))
            try:
                runner.wait(timeout=600)
            except subprocess.TimeoutExpired:
                runner.kill()
                runner.wait()
                # Criterion's socket, which a killed runner leaves in /tmp
                # (this run is not sandboxed; harness/lib/grade.c).
                try:
                    os.unlink(f"/tmp/criterion_{runner.pid}.sock")
                except OSError:
                    pass
                return "killed", ["(the whole run timed out)"]
        failed = []
        ran = 0
        for row in open(results, errors="replace"):
            f = row.rstrip("\n").split("\t")
            if row.startswith("#") or len(f) < 6:
                continue
            ran += 1
            if f[5] == "fail":
                failed.append(f[1])
        if ran == 0:
            return "killed", ["(no results: the runner died)"]
        return ("killed" if failed else "survived"), failed
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ch")
    ap.add_argument("--file", action="append", help="only this file of the chapter (repeatable)")
    ap.add_argument("--only", help="only these operators, comma-separated")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", "2")))
    ap.add_argument("--limit", type=int, default=0, help="grade at most N mutants (a sample)")
    ap.add_argument("--function", action="append",
                    help="only lines inside functions whose name starts with this (repeatable)")
    ap.add_argument("--list", action="store_true", help="print the mutants, grade nothing")
    args = ap.parse_args()

    ch = args.ch.zfill(2)
    chapter = chapter_dir(ch)
    files = args.file or make_vars(chapter)
    only = set(args.only.split(",")) if args.only else None
    equivalent = load_equivalent(chapter)
    work = os.path.join(ROOT, "build", "mutate", ch)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "survivors"))

    todo = []
    for file in files:
        text = open(os.path.join(ROOT, "solutions", chapter, file)).read()
        seen = set()
        lines = text.split("\n")
        for i, line in code_lines(text):
            if args.function and not any(function_at(lines, i).startswith(f) for f in args.function):
                continue
            for op, new in mutations(line):
                if (only and op not in only) or new == line or (i, new) in seen:
                    continue
                seen.add((i, new))
                todo.append((file, i, line, new, op, text))
    if args.limit and len(todo) > args.limit:
        step = len(todo) / args.limit
        todo = [todo[int(k * step)] for k in range(args.limit)]

    if args.list:
        for (f, i, line, new, op, text) in todo:
            print(f"{f}:{i + 1} [{op}]\n    - {line.strip()}\n    + {new.strip()}")
        print(f"mutate: {chapter}: {len(todo)} mutants")
        return 0
    # The harness's objects once, and the unmutated reference must pass.
    status, failed = grade(chapter, work, files[0], 0,
                           open(os.path.join(ROOT, "solutions", chapter, files[0])).read().split("\n")[0],
                           open(os.path.join(ROOT, "solutions", chapter, files[0])).read(), 2)
    if status != "survived":
        sys.exit(f"mutate: the unmutated reference of {chapter} does not pass ({status}: {' '.join(failed)})")

    print(f"mutate: {chapter}: {len(todo)} mutants of {' '.join(files)}, {args.jobs} at a time")
    counts = {"killed": 0, "survived": 0, "stillborn": 0, "equivalent": 0, "error": 0}
    errors = []
    survivors = []
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = {pool.submit(grade, chapter, work, f, i, new, text, 1): (f, i, line, new, op, text)
                for (f, i, line, new, op, text) in todo}
        done = 0
        for fut in cf.as_completed(futs):
            f, i, line, new, op, text = futs[fut]
            status, failed = fut.result()
            done += 1
            if status == "survived" and is_equivalent(equivalent, f, line, new,
                                                       function_at(text.split("\n"), i)):
                status = "equivalent"
            counts[status] += 1
            if status == "survived":
                survivors.append((f, i, line, new, op, text))
            if status == "error":
                errors.append(f"ERROR {f}:{i + 1} [{op}] {' '.join(failed)}")
            if done % 25 == 0:
                print(f"  {done}/{len(todo)}: {counts}", flush=True)

    lines_out = []
    survivors.sort(key=lambda s: (s[0], s[1]))
    for n, (f, i, line, new, op, text) in enumerate(survivors, 1):
        name = f"{n:03d}-{os.path.splitext(f)[0]}-{i + 1}-{op}"
        old = text.split("\n")
        mutated = list(old)
        mutated[i] = new
        diff = difflib.unified_diff([l + "\n" for l in old], [l + "\n" for l in mutated],
                                    f"a/{f}", f"b/{f}", n=3)
        where = function_at(old, i)
        with open(os.path.join(work, "survivors", name + ".diff"), "w") as out:
            out.write(f"mutant of {f}: (operator {op}, line {i + 1}, in {where or 'no function'}) "
                      f"describe the mistake here\n")
            out.writelines(diff)
        lines_out.append(f"SURVIVED {f}:{i + 1} in {where or '-'} [{op}]\n    - {line.strip()}\n"
                         f"    + {new.strip()}")
    summary = (f"{chapter}: {len(todo)} operator mutants: {counts['killed']} killed, "
               f"{counts['equivalent']} equivalent (mutants/equivalent.tsv), "
               f"{counts['stillborn']} did not build, {counts['survived']} survived"
               + (f", {counts['error']} not graded (errors of this tool, listed above)" if errors else ""))
    lines_out += errors
    with open(os.path.join(work, "summary.txt"), "w") as out:
        out.write(summary + "\n" + "\n".join(lines_out) + "\n")
    print("\n".join(lines_out))
    print(summary)
    if survivors:
        print(f"mutate: the survivors as diffs: {work}/survivors/ (kill each with a test, or list it "
              f"in harness/{chapter}/mutants/equivalent.tsv with the reason)")
    # Only a whole run can tell that a listed mutant is no longer made.
    unused = set() if (args.limit or only or args.function) else set(k for k in equivalent if k[0] in files) - set(
        (f, line.strip(), new.strip()) for (f, i, line, new, op, text) in todo)
    for k in sorted(unused):
        print(f"mutate: equivalent.tsv lists a mutant that is no longer generated: {k[0]}: {k[1]} -> {k[2]}")
    return 1 if survivors or errors else 0


if __name__ == "__main__":
    sys.exit(main())
