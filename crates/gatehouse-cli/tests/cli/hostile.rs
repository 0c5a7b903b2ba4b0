//! Broken and hostile input, and what Gatehouse prints from it: special files, NUL bytes,
//! "no end" dates, snapshot folders with a doubled system or a link out of the folder, control
//! characters on the terminal, formulas in CSV exports, markup in Markdown exports; and the
//! command line itself: help with examples, pipes that close, secrets that stay out of sight.

use std::process::{Command, Stdio};

use super::{ERP_ENTITLEMENTS, ERP_TOML, Env, PEOPLE};

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hostile_input(env: Env) {
    env.ok(&["init", "--origin", "test.example/gatehouse"]);

    // A NUL byte is refused where it is read, with file, line and field, on both backends
    // (PostgreSQL would otherwise fail at write time, with no place).
    env.write(
        "nul.csv",
        b"employee_id,name,status\nE1,Ada,active\nE2,B\x00b,active\n",
    );
    let err = env.fails(&["import", "hr", "nul.csv"]);
    assert!(
        err.contains(
            "\n  nul.csv:3: field `name`: contains a NUL byte (byte 2 of the value); remove it\n"
        ),
        "{err}"
    );
    let out = env.ok(&[
        "import",
        "hr",
        "nul.csv",
        "--skip-invalid",
        "--as-of",
        "2025-12-01",
    ]);
    assert!(out.contains("1 identity added"), "{out}");

    // Names with escape sequences, a bell, a bidirectional override; a formula; markup.
    env.write(
        "people.csv",
        "employee_id,name,email,status,start_date,end_date\n\
         E1,\"Ada \u{1b}[2J\u{1b}[31mRED\u{7}\",ada@example.com,active,2020-01-01,9999-12-31\n\
         E2,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",bob@example.com,active,2021-01-01,\n\
         E3,\"gnp\u{202e}exe.doc <img src=x onerror=alert(1)> [a](http://t.example)\",cy@example.com,active,2021-01-01,\n\
         E4,Di,di@example.com,active,2022-01-01,\n"
            .as_bytes(),
    );
    env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    env.write("erp/system.toml", ERP_TOML.as_bytes());
    env.write(
        "erp/accounts.csv",
        b"id,username,employee_id\nu1,ada,E1\nu2,-cmd,E2\nu3,cy,E3\n",
    );
    env.write("erp/entitlements.csv", ERP_ENTITLEMENTS.as_bytes());
    // `9999-12-31`, the usual "never expires", is read as no end.
    env.write(
        "erp/grants.csv",
        b"account,entitlement,expires_at\nu1,role/AP_Approver,9999-12-31\nu2,role/AP_Approver,9999-12-31T23:59:59Z\nu3,role/AP_Approver,2027-01-31\n",
    );
    env.ok(&["import", "system", "erp", "--as-of", "2026-02-01"]);

    // The terminal sees the control characters escaped; JSON keeps them exact.
    let table = env.ok(&["who-has", "erp:role/AP_Approver"]);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}') && !table.contains('\u{202e}'),
        "{table:?}"
    );
    assert!(
        table.contains("Ada \\u{1b}[2J\\u{1b}[31mRED\\u{7}"),
        "{table}"
    );
    assert!(table.contains("gnp\\u{202e}exe.doc"), "{table}");
    let json = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let holders = v["rows"].as_array().unwrap();
    assert_eq!(
        holders[0]["name"], "Ada \u{1b}[2J\u{1b}[31mRED\u{7}",
        "JSON is exact"
    );
    assert_eq!(
        holders[2]["name"].as_str().unwrap().chars().nth(3),
        Some('\u{202e}')
    );
    assert!(holders[0]["expires_at"].is_null(), "{json}");
    assert!(holders[1]["expires_at"].is_null(), "{json}");
    assert_eq!(holders[2]["expires_at"], "2027-01-31T00:00:00Z");
    let out = env.ok(&["history", "identity", "E1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2, "{out}");
    assert!(
        !out.contains("9999"),
        "9999-12-31 is stored as no end: {out}"
    );

    // CSV: formulas are neutralised as OWASP recommends; nothing else changes.
    let csv = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "csv"]);
    // (after the comment lines that say what the export answers)
    let lines: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        lines[2].starts_with(
            "u2,\"'-cmd\",E2,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",active,"
        ),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("u1,ada,E1,Ada \u{1b}[2J\u{1b}[31mRED\u{7},"),
        "{csv:?}"
    );

    // Markdown: no HTML, link or image of the input's own; HTML: escaped.
    let md = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "md"]);
    assert!(
        md.contains(
            "gnp\\\\u{202e}exe.doc &lt;img src=x onerror=alert(1)&gt; \\[a\\](http://t.example)"
        ),
        "{md}"
    );
    assert!(!md.contains("<img") && !md.contains('\u{1b}'), "{md}");
    let html = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "html"]);
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"),
        "{html}"
    );

    // Error messages quote input with its control characters escaped.
    env.write(
        "bad.csv",
        "employee_id,name,status\nE9,x,\"act\u{1b}]0;owned\u{7}ive\"\n".as_bytes(),
    );
    let err = env.fails(&["import", "hr", "bad.csv"]);
    assert!(
        err.contains("`act\\u{1b}]0;owned\\u{7}ive` is not a valid employment status"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");

    // A named pipe where a file belongs is refused, and nothing waits for a writer.
    let fifo = env.path("fifo.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let err = env.fails(&["import", "hr", "fifo.csv"]);
    assert!(
        err.contains("error[GH207]: fifo.csv: is a named pipe (FIFO), not a regular file"),
        "{err}"
    );
    std::os::unix::fs::symlink("/dev/zero", env.path("zero.csv")).unwrap();
    let err = env.fails(&["import", "nhi", "zero.csv"]);
    assert!(
        err.contains("zero.csv: is a device (such as /dev/zero), not a regular file"),
        "{err}"
    );

    // A snapshot folder: two folders holding one system, a link out of the folder.
    env.write("snap/hr/people.csv", PEOPLE.as_bytes());
    for dir in ["erp", "erp-copy"] {
        env.write(
            &format!("snap/systems/{dir}/system.toml"),
            ERP_TOML.as_bytes(),
        );
        env.write(&format!("snap/systems/{dir}/accounts.csv"), b"id\n");
        env.write(&format!("snap/systems/{dir}/entitlements.csv"), b"id\n");
        env.write(
            &format!("snap/systems/{dir}/grants.csv"),
            b"account,entitlement\n",
        );
    }
    let err = env.fails(&["import", "folder", "snap"]);
    assert!(
        err.contains("`snap/systems/erp` and `snap/systems/erp-copy` both hold the system `erp`"),
        "{err}"
    );
    std::fs::remove_dir_all(env.path("snap/systems/erp-copy")).unwrap();
    std::fs::remove_file(env.path("snap/systems/erp/grants.csv")).unwrap();
    std::os::unix::fs::symlink(
        env.path("erp/grants.csv"),
        env.path("snap/systems/erp/grants.csv"),
    )
    .unwrap();
    let err = env.fails(&["import", "folder", "snap"]);
    assert!(
        err.contains("`snap/systems/erp/grants.csv` leads through a symbolic link to `")
            && err.contains("outside the snapshot folder `snap`"),
        "{err}"
    );
    // Nothing of either folder was imported.
    let out = env.ok(&["history", "identity", "E4", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 1, "{out}");
}

both!(hostile_input);

/// Every command below `path` (its words), found in the help.
fn subcommands(path: &[String]) -> Vec<Vec<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    let help = stdout_of(&out);
    let Some((_, listed)) = help.split_once("Commands:\n") else {
        return Vec::new();
    };
    listed
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(|name| {
            let mut p = path.to_vec();
            p.push(name.to_owned());
            p
        })
        .collect()
}

#[test]
fn every_command_explains_itself_with_examples() {
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = 0;
    let mut with_format = Vec::new();
    while let Some(path) = pending.pop() {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(&path)
            .arg("--help")
            // The store's password must not show in help (clap shows an option's
            // environment value unless told not to).
            .env(
                "GATEHOUSE_DB",
                "postgres://gatehouse:s3cret-pw@db.internal/gatehouse",
            )
            .output()
            .unwrap();
        let help = stdout_of(&out);
        let name = format!("gatehouse {}", path.join(" "));
        assert!(out.status.success(), "{name} --help failed");
        assert!(
            !help.contains("s3cret-pw"),
            "{name} --help shows the password:\n{help}"
        );
        let examples = help
            .split_once("\nExamples:\n")
            .map(|(_, e)| e)
            .unwrap_or_else(|| panic!("{name} --help has no examples:\n{help}"));
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with(name.trim_end())),
            "the examples of `{name}` do not show it:\n{examples}"
        );
        // The options every command takes are listed under their own heading.
        let global = help
            .split_once("\nGlobal options:\n")
            .map(|(_, g)| g)
            .unwrap_or_else(|| panic!("{name} --help has no global options:\n{help}"));
        assert!(global.contains("--db <PATH|URL>"), "{name}");
        if help.contains("--format <FORMAT>") {
            with_format.push(path.join(" "));
            assert!(global.contains("-f, --format <FORMAT>"), "{name}");
        }
        seen += 1;
        pending.extend(subcommands(&path));
    }
    assert!(seen > 30, "only {seen} commands found");
    // --format is offered where it changes the output, and only there.
    for listing in [
        "who-has",
        "access",
        "history",
        "account list",
        "ledger show",
        "assess",
    ] {
        assert!(
            with_format.iter().any(|p| p == listing),
            "{listing}: {with_format:?}"
        );
    }
    for action in [
        "import hr",
        "import folder",
        "init",
        "demo",
        "ledger verify",
        "correlate",
    ] {
        assert!(
            !with_format.iter().any(|p| p == action),
            "{action}: {with_format:?}"
        );
    }
    let env = Env::sqlite();
    let out = env.run(&["import", "hr", "people.csv", "--format", "csv"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--format'"),
        "{out:?}"
    );
}

/// Runs a command whose standard output is a pipe nobody reads: closed before it starts.
fn into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(env.dir.path())
        .env("GATEHOUSE_DB", &env.db)
        .env("GATEHOUSE_NOW", "2026-11-23T10:00:00Z")
        .env("GATEHOUSE_ACTOR", "cli:test")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_LEDGER_KEY")
        .env_remove("GATEHOUSE_LEDGER_WITNESSES")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_output_ends_the_command_quietly() {
    let env = Env::sqlite();
    super::setup(&env);
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    for args in [
        &["import", "hr", "people.csv", "--as-of", "2026-01-01"][..],
        &["import", "system", "erp", "--as-of", "2026-02-01"],
        &["ledger", "verify"],
        &["ledger", "show"],
        &["ledger", "show", "--format", "json"],
        &["who-has", "erp:role/AP_Approver", "--format", "csv"],
        &["access", "E1"],
        &["system", "list", "--format", "md"],
        &["--help"],
    ] {
        let out = into_closed_pipe(&env, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
    // The imports went in, although nobody read what they said.
    let out = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "csv"]);
    let rows = out.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(rows, 2, "a header and one holder:\n{out}");
}

#[test]
fn store_passwords_are_never_repeated() {
    let env = Env::sqlite();
    for db in [
        "gatehouse:s3cret-pw@db.internal/gatehouse",
        "postgres:/gatehouse:s3cret-pw@db.internal/gatehouse",
        "host=db.internal user=gatehouse password=s3cret-pw",
    ] {
        let out = env.run(&["--db", db, "system", "list"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{db}: {stderr}");
        assert!(stderr.starts_with("error[GH107]: "), "{db}: {stderr}");
        assert!(!stderr.contains("s3cret-pw"), "{db}: {stderr}");
        assert!(
            !env.path(db).exists(),
            "{db} was taken for a SQLite file name"
        );
        let out = env.run(&["--db", db, "init"]);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-pw"));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret-pw"));
    }
}

#[test]
fn init_keeps_the_key_and_the_store_out_of_git() {
    let env = Env::sqlite();
    std::fs::create_dir(env.path(".git")).unwrap();
    let init = |dir: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("init")
            .current_dir(dir)
            .env_remove("GATEHOUSE_DB")
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("GATEHOUSE_LEDGER_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        stdout_of(&out)
    };
    let out = init(env.dir.path());
    assert!(
        out.contains(
            "added /gatehouse.key, /gatehouse.db, /gatehouse.db-* to .gitignore (the signing key \
             and the store stay out of git)"
        ),
        "{out}"
    );
    let ignored = std::fs::read_to_string(env.path(".gitignore")).unwrap();
    for line in ["/gatehouse.key", "/gatehouse.db", "/gatehouse.db-*"] {
        assert!(ignored.lines().any(|l| l == line), "{line}: {ignored}");
    }
    // Again: nothing is added twice.
    init(env.dir.path());
    assert_eq!(
        std::fs::read_to_string(env.path(".gitignore")).unwrap(),
        ignored
    );
    // In a folder of a repository, below its root.
    std::fs::create_dir(env.path("ops")).unwrap();
    init(&env.path("ops"));
    let ignored = std::fs::read_to_string(env.path("ops/.gitignore")).unwrap();
    assert!(ignored.contains("/gatehouse.key\n"), "{ignored}");
    // An existing .gitignore keeps what it had.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join(".gitignore"), "target").unwrap();
    init(other.path());
    let ignored = std::fs::read_to_string(other.path().join(".gitignore")).unwrap();
    assert!(ignored.starts_with("target\n# Gatehouse"), "{ignored}");
    // Outside a repository, with no .gitignore, none is made.
    let plain = tempfile::tempdir().unwrap();
    init(plain.path());
    assert!(!plain.path().join(".gitignore").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["gatehouse.toml", "gatehouse.key", "gatehouse.db"] {
            let mode = std::fs::metadata(plain.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
}

#[test]
fn ctrl_c_stops_a_folder_import_between_sources_and_seals_what_went_in() {
    use std::io::{BufRead, BufReader};
    let env = Env::sqlite();
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    // Enough sources, each of some size, that the import is still running when Ctrl-C comes.
    env.write("snap/hr/people.csv", PEOPLE.as_bytes());
    for n in 0..40 {
        let dir = format!("snap/systems/s{n:02}");
        env.write(
            &format!("{dir}/system.toml"),
            format!("key = \"s{n:02}\"\nname = \"System {n}\"\n").as_bytes(),
        );
        let accounts: String = (0..400).map(|i| format!("u{i}\n")).collect();
        env.write(
            &format!("{dir}/accounts.csv"),
            format!("id\n{accounts}").as_bytes(),
        );
        env.write(&format!("{dir}/entitlements.csv"), b"id\ne1\ne2\n");
        let grants: String = (0..400).map(|i| format!("u{i},e{}\n", 1 + i % 2)).collect();
        env.write(
            &format!("{dir}/grants.csv"),
            format!("account,entitlement\n{grants}").as_bytes(),
        );
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["import", "folder", "snap"])
        .current_dir(env.dir.path())
        .env("GATEHOUSE_DB", &env.db)
        .env("GATEHOUSE_NOW", "2026-11-23T10:00:00Z")
        .env("GATEHOUSE_ACTOR", "cli:test")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_LEDGER_KEY")
        .env_remove("GATEHOUSE_LEDGER_WITNESSES")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // The HR feed is in: press Ctrl-C.
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("imported `hr`") {
        line.clear();
    }
    assert!(line.contains("imported `hr`"), "{line}");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{rest}\n{stderr}");
    assert!(
        stderr.contains("stopping after the source being imported"),
        "{stderr}"
    );
    let said = stderr
        .split_once("stopped: the import was stopped after ")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(said.contains(" of 41 sources"), "{said}");
    // The HR feed, and maybe a system that was being written when Ctrl-C came.
    assert!(said.contains("\nimported: snap/hr/people.csv"), "{said}");
    assert!(
        said.contains("\nnot imported: snap/systems/") && !said.contains("not imported: none"),
        "{said}"
    );
    // What went in is whole, and covered by a signed checkpoint.
    let verified = env.ok(&["ledger", "verify"]);
    assert!(verified.starts_with("ledger OK"), "{verified}");
    assert!(!verified.contains("not yet covered"), "{verified}");
    // The same command imports the rest.
    let out = env.ok(&["import", "folder", "snap"]);
    assert!(out.contains("imported `system:s39`"), "{out}");
}
