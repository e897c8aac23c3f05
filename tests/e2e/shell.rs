//! The shell, through `agentos -c`, in a fresh workspace per line.
//!
//! The expected outputs are what bash with GNU coreutils prints for the same
//! lines (the side-by-side run against bash comes with the rest of the shell).

use std::process::Command;

/// (line, stdout, exit status).
const LINES: &[(&str, &str, i32)] = &[
    ("echo hello world", "hello world\n", 0),
    ("echo 'single $X' \"double $HOME\" back\\ slash", "single $X double /home/tester back slash\n", 0),
    ("X=1; echo $X ${X}2", "1 12\n", 0),
    ("true && echo yes || echo no", "yes\n", 0),
    ("false && echo yes || echo no", "no\n", 0),
    ("false; echo $?", "1\n", 0),
    ("! false; echo $?", "0\n", 0),
    ("seq 5 | sort -r | head -2", "5\n4\n", 0),
    ("seq 3 | wc -l", "3\n", 0),
    ("echo $(echo inner) outer", "inner outer\n", 0),
    ("cd /tmp && pwd", "/tmp\n", 0),
    ("mkdir -p /tmp/g && touch /tmp/g/a.txt /tmp/g/b.txt /tmp/g/c.md && cd /tmp/g && echo *.txt", "a.txt b.txt\n", 0),
    ("exit 3", "", 3),
    ("nosuchcommand", "", 127),
    ("echo a # a comment", "a\n", 0),
    ("export GREETING=hi; env | grep GREETING", "GREETING=hi\n", 0),
    ("cd /tmp; seq 3 > n.txt; echo four >> n.txt; wc -l < n.txt", "4\n", 0),
    ("cat /missing 2> /tmp/err; cat /tmp/err", "cat: /missing: No such file or directory\n", 0),
    ("cat /missing 2>&1 | tr a-z A-Z", "CAT: /MISSING: NO SUCH FILE OR DIRECTORY\n", 0),
    ("echo > ", "", 2),
    ("for x in a b c; do echo $x; done", "a\nb\nc\n", 0),
    ("if [ -d /tmp ]; then echo dir; elif true; then echo elif; else echo no; fi", "dir\n", 0),
    ("if test 2 -lt 1; then echo yes; else echo no; fi", "no\n", 0),
    ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i + 1)); done", "0\n1\n2\n", 0),
    ("until true; do echo never; done; echo after", "after\n", 0),
    ("{ echo one; echo two; } && echo three", "one\ntwo\nthree\n", 0),
    ("echo $(( (2 + 3) * 4 % 7 )) $((10 / 3)) $((-5 + 1))", "6 3 -4\n", 0),
    ("[ a = b ]; echo $?", "1\n", 0),
    ("if true; then", "", 2),
    ("printf 'a=%s n=%d\\n' x 5 y 6", "a=x n=5\na=y n=6\n", 0),
    ("echo one two three | sh -c 'read a rest; echo \"$rest/$a\"'", "two three/one\n", 0),
    // Jobs: listed while running, killed by job number, waited for.
    ("sleep 5 & jobs; kill %1; wait %1; echo $?", "[1]+  Running                 sleep 5 &\n137\n", 0),
    ("sleep 5 & kill -9 $!; wait $!; echo $?", "137\n", 0),
    ("ps | head -1", "    PID TTY          TIME CMD\n", 0),
    // A process may kill only its descendants: /bin/kill cannot kill the shell.
    ("/bin/kill $$; echo $?", "1\n", 0),
    // `#!` scripts run by their interpreter, found relative to the working directory.
    ("cd /tmp; printf '#!/bin/sh\\necho hi $1\\n' > s.sh; ./s.sh there", "hi there\n", 0),
    ("sh -c 'echo $0 $1' name arg", "name arg\n", 0),
    // Two agents joined by a typed port: job offers as records, not bytes.
    (
        "job-finder --role 'ML Engineer' --count 2 | tailor-cv",
        concat!(
            r#"{"company":"Northwind AI","title":"ML Engineer","location":"Berlin","cv":"ML Engineer at Northwind AI: lead with shipped models, 100 match"}"#,
            "\n",
            r#"{"company":"Fabrikam Labs","title":"Senior ML Engineer","location":"Remote","cv":"Senior ML Engineer at Fabrikam Labs: lead with shipped models, 100 match"}"#,
            "\n"
        ),
        0,
    ),
    // Three typed stages, then a byte pipe: the middle one consumes and emits.
    ("job-finder --role 'ML Engineer' | shortlist --min-score 100 | tailor-cv | wc -l", "3\n", 0),
    // A consumer expecting another record is refused before either starts.
    ("job-finder --role ML | mail-digest; echo $?", "1\n", 0),
    // An endless writer and a reader that stops: the writer gets a broken pipe.
    ("yes | head -1", "y\n", 0),
];

#[test]
fn shell_lines() {
    let mut failures = Vec::new();
    for (line, stdout, status) in LINES {
        let workspace = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_agentos"))
            .args(["-c", line])
            .env("AGENTOS_CACHE_DIR", crate::cache_dir())
            .env("AGENTOS_WORKSPACE", workspace.path())
            .env("USER", "tester")
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        if got != *stdout || out.status.code() != Some(*status) {
            failures.push(format!(
                "{line:?}: {:?} {got:?} (stderr {:?})",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every tool the kernel links into /bin is one coreutils knows, and back.
#[test]
fn bin_holds_every_coreutils_tool() {
    let workspace = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agentos"))
        .args(["-c", "/bin/coreutils --list; echo ---; ls /bin"])
        .env("AGENTOS_CACHE_DIR", crate::cache_dir())
        .env("AGENTOS_WORKSPACE", workspace.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (listed, bin) = text.split_once("---\n").expect("both lists");
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed, agentos::seed::COREUTILS_TOOLS);
    let mut expected: Vec<&str> = listed.iter().copied().chain(["coreutils", "sh"]).collect();
    expected.sort();
    assert_eq!(bin.lines().collect::<Vec<_>>(), expected);
}

/// Files both shells start from (relative paths: bash runs in a host temporary
/// directory, `agentos -c` in the user's home of a fresh workspace).
const SETUP: &str = "mkdir -p d/sub; printf 'banana\\napple\\ncherry\\napple\\n' > d/fruit.txt; printf 'x 1\\ny 22\\nz 333\\n' > d/cols.txt; touch d/sub/a.md d/sub/b.md";

/// Lines run by `agentos -c` and by `bash -c` (with GNU coreutils, `LC_ALL=C`)
/// on the same files: stdout and exit status must be identical.
const SAME_AS_BASH: &[&str] = &[
    "echo plain words",
    "echo 'quoted  spaces' \"and $((1+1))\"",
    "echo a\\ b c",
    "X='one two'; echo $X; echo \"$X\"",
    "echo ${UNSET}empty",
    "true; echo $?; false; echo $?",
    "false || echo recovered",
    "true && false || echo chain",
    "! true; echo $?",
    "cat d/fruit.txt",
    "cat d/fruit.txt | sort",
    "sort d/fruit.txt | uniq -c",
    "sort -r d/fruit.txt",
    "sort -u d/fruit.txt",
    "grep apple d/fruit.txt",
    "grep -c apple d/fruit.txt",
    "grep -n an d/fruit.txt",
    "grep -n 'an.n' d/fruit.txt; grep -F 'an.n' d/fruit.txt; grep -c 'a' d/fruit.txt",
    "printf 'a.b\\naxb\\n\\nlast' | grep -n 'a.b'; printf 'x\\n\\nlast' | grep -c -v x; printf 'no newline' | grep new",
    "yes abc | head -15 | uniq -c; seq 1 3 | uniq -c; printf 'a\\na' | uniq -c",
    "grep -v apple d/fruit.txt",
    "grep -i APPLE d/fruit.txt",
    "grep nothing d/fruit.txt; echo $?",
    "head -n 2 d/fruit.txt",
    "tail -n 2 d/fruit.txt",
    "wc -l d/fruit.txt",
    "wc -l < d/fruit.txt",
    "cut -d ' ' -f 2 d/cols.txt",
    "tr a-z A-Z < d/fruit.txt",
    "seq 4",
    "seq 2 5",
    "seq 10 -3 1",
    "ls d",
    "ls d/sub",
    "cd d && ls",
    "echo d/sub/*.md",
    "echo nomatch*",
    "for f in d/sub/*; do echo \"file $f\"; done",
    "for i in 1 2 3; do echo $((i * i)); done",
    "i=0; while [ $i -lt 3 ]; do i=$((i + 1)); done; echo $i",
    "if [ -f d/fruit.txt ]; then echo file; fi",
    "if [ -d d/fruit.txt ]; then echo dir; else echo notdir; fi",
    "[ abc = abc ] && echo equal",
    "test 3 -gt 2; echo $?",
    "echo $(echo nested $(echo deeper))",
    "basename d/sub/a.md .md; dirname d/sub/a.md",
    "echo out > d/new.txt; cat d/new.txt; echo more >> d/new.txt; cat d/new.txt",
    "cat missing 2>/dev/null; echo $?",
    "mkdir d/x && rmdir d/x && echo removed",
    "cp d/fruit.txt d/copy.txt && cat d/copy.txt | wc -l",
    "mv d/cols.txt d/moved.txt && ls d",
    "printf '%s-%s\\n' a b c d",
    "greet() { echo \"hello $1\"; }; greet world; greet there",
    "count () { echo $#; }; count a b c",
    "f() { false; }; f || echo failed",
    "case apple in a*) echo starts-a;; *) echo other;; esac",
    "for w in x.txt y.md z; do case $w in *.txt|*.md) echo \"doc $w\";; *) echo \"other $w\";; esac; done",
    "case abc in [a-c]b?) echo bracket;; esac",
    "case 'a*' in 'a*') echo quoted;; a*) echo glob;; esac",
    "(cd d/sub && ls); ls d | wc -l",
    "(exit 3); echo $?",
    "X=outer; (X=inner; echo $X); echo $X",
    "{ echo b; echo a; } | sort",
    "for i in 3 1 2; do echo $i; done | sort -n",
    "seq 5 | while read n; do echo $((n * 2)); done",
    "if true; then echo yes; fi | tr a-z A-Z",
    "echo 'a b' | { read p q; echo \"$q $p\"; }",
    "{ echo one; echo two; } > d/g.txt; wc -l < d/g.txt",
    "f() { return 3; }; f; echo $?",
    "f() { echo in; return; echo never; }; f",
    "for i in 1 2 3 4 5; do [ $i = 4 ] && break; echo $i; done",
    "for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done",
    "sleep 0 & wait; echo waited",
    "echo bg > d/bg.txt & wait $!; cat d/bg.txt",
    "find d -name '*.md' | sort",
    "find d -type d | sort",
    "find d/sub -type f | wc -l",
    "find d -name nothing; echo $?",
    "ls d | xargs echo",
    "seq 6 | xargs -n 2 echo",
    "find d -name '*.txt' | sort | xargs wc -l",
    "grep '^a' d/fruit.txt",
    "grep -E 'an+a' d/fruit.txt",
    "grep 'p\\{2\\}' d/fruit.txt",
    "grep -r apple d | sort",
    "grep -l an d/fruit.txt d/cols.txt",
    "grep -c '' d/fruit.txt",
    "f=d/sub/a.md; echo ${f##*/} ${f%.md} ${#f}",
    "echo ${NOPE:-default} ${NOPE:+alt}",
    "printf '#!/bin/sh\\necho script $1\\n' > d/s.sh; sh d/s.sh arg",
    "ls -l d/sub | wc -l",
    "ls -ld d | cut -c 1",
    "cat missing 2>&1",
    "ls nowhere 2>&1; echo $?",
    "wc -q 2>&1; echo $?",
    "x=$(seq 3 | wc -l); echo \"lines: $x\"",
    "echo $((7 / 2)) $((7 % 3)) $((2 * (3 + 4)))",
    "A=1; export A; env | grep '^A='",
    "touch d/sub/c.md && echo d/sub/[ab].md d/sub/[!a].md",
    "rm -r d/sub && ls d",
    "tee d/t.txt < d/fruit.txt | wc -l; head -1 d/t.txt",
    "cut -c 1-3 d/fruit.txt",
    // Issue 11: `< /dev/zero` was refused while `head -c 3 /dev/zero` worked.
    "head -c 3 < /dev/zero | wc -c; head -c 5 /dev/zero | wc -c; echo x > /dev/zero; echo $?",
    // Issue 12: `cd ..` set PWD to `…/..`, and every command after failed.
    "cd d/sub && cd .. && ls && cd ../d/./sub/.. && ls sub",
    "cd d; cd sub; x=$(cd -); echo ${x##*/}; cd - | wc -l; cd \"$OLDPWD\"; ls",
    // Issue 12: `: > file` did not empty the file (a re-run script doubled its output).
    "echo one > d/o.txt; : > d/o.txt; wc -c < d/o.txt; echo two >> d/o.txt; : >> d/o.txt; cat d/o.txt",
    // Issue 12: `read -r a b` took `-r` for a name.
    "printf 'a\\\\b c d\\n' > d/r.txt; read -r x y < d/r.txt; echo \"$x|$y\"; read x y < d/r.txt; echo \"$x|$y\"",
    "printf 'one \\\\\\ntwo\\n' > d/c.txt; read x < d/c.txt; echo \"$x\"; read -r x < d/c.txt; echo \"$x\"; read -z; echo $?",
    // Issue 12: `$PPID` was empty.
    "sh -c 'echo $PPID' > d/p.txt; [ \"$(cat d/p.txt)\" = \"$$\" ] && echo child of this shell",
    // Issue 12: substrings, replacement and case returned the string unchanged.
    "s=hello; echo ${s:1:3} ${s:2} ${s: -3} ${s:1:-1} ${s:9}. ${s:0:99}",
    "s=hello; echo ${s/l/L} ${s//l/L} ${s/#h/H} ${s/%o/O} ${s/x/y} ${s/l*/_} ${s//[el]/}",
    "s='hello World'; echo ${s^^} ${s,,} ${s^} ${s,}",
    "f=a.tar.gz; echo ${f/.tar/} ${f//./-} ${f/%gz/xz}",
    // Issue 12: `${x:-\"q r\"}` printed `a bq r}`.
    "echo ${NOPE:-\"q r\"} ${NOPE:-'s t'}x ${NOPE:-a b}; y=${NOPE:-\"$HOME\"}; [ \"$y\" = \"$HOME\" ] && echo home",
    // Issue 12: `[ … -a … ]` and `-o` were refused.
    "[ -n x -a -d d ] && echo both; [ -z x -o -f d/fruit.txt ] && echo either; [ -z x -a -d d ]; echo $?; [ -a = -a ] && echo eq",
    "[ x = y -o ! -d d -o 1 -eq 1 ] && echo third; [ a -a '' ]; echo $?",
    // Issue 12: arithmetic lacked `&&`, `||`, assignment, hex and octal, and
    // `$(( 1 / 0 ))` went on with status 0.
    "echo $((1 && 0)) $((1 || 0)) $((0x10)) $((010)) $((2#101)) $((x = 4)) $x $((x += 3)) $x",
    "echo $((1 ? 2 : 3)) $((7 & 3 | 8 ^ 1)) $((1 << 4 >> 1)) $((2 ** 10)) $((-7 / 2)) $((~0)) $((!5)) $((0 && 1 / 0))",
    "y=3; echo $((y * (y + 1))) $(( y > 2 && y < 5 )) $((y != 3 || y >= 3))",
    "echo before; echo $(( 1 / 0 )); echo after",
    // Review: an operand that reads `-o` or `-a` is one; `${s:$i:1}`
    // expands its offset; nested `${…}`; an empty or a variable's
    // expression in arithmetic; a failed expansion in a pipeline does not
    // skip the next command.
    "x=-o; [ \"$x\" = -o -o \"$x\" = b ] && echo opt; [ -n -a -a -n x ]; echo $?; [ -z -o -o -z x ]; echo $?; [ \\( -n x \\) -a ! -z x ] && echo group",
    "s=hello; i=2; n=3; echo ${s:$i:1} ${s: -$n} ${s:$((i-1)):2}; unset a; b=x; echo ${a:-${b}} ${a:-{}",
    "unset n; echo $(( $n )) $(( )); b=2; a=b+1; echo $((a)) $((a * 2))",
    "echo $((1/0)) | cat; echo next",
    "s=a/b/c; echo ${s//\\//_} ${s/#/x} ${s/%/x} ${s//b} ${s/[ab]/Z}; t=$(seq 3000); u=${t//1/X}; echo ${#u}",
    // Review: `${@:N}` sliced the joined string.
    "f() { echo ${@:1} / ${@:2} / ${@:2:1} / ${*:3} / ${@: -1} / ${@:4}.; }; f abc def ghi",
    "exit 7",
];

#[test]
fn shell_matches_bash() {
    let mut failures = Vec::new();
    for line in SAME_AS_BASH {
        let script = format!("{SETUP}; {line}");
        let host = tempfile::tempdir().unwrap();
        let bash =
            Command::new("bash").args(["-c", &script]).current_dir(host.path()).env("LC_ALL", "C").output().unwrap();
        let workspace = tempfile::tempdir().unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_agentos"))
            .args(["-c", &format!("cd; {script}")])
            .env("AGENTOS_CACHE_DIR", crate::cache_dir())
            .env("AGENTOS_WORKSPACE", workspace.path())
            .env("USER", "tester")
            .output()
            .unwrap();
        if ours.stdout != bash.stdout || ours.status.code() != bash.status.code() {
            failures.push(format!(
                "{line:?}\n  bash:    {:?} {:?}\n  agentos: {:?} {:?} (stderr {:?})",
                bash.status.code(),
                String::from_utf8_lossy(&bash.stdout),
                ours.status.code(),
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&ours.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines differ from bash:\n{}",
        failures.len(),
        SAME_AS_BASH.len(),
        failures.join("\n")
    );
}
