//! Access review campaigns through the `gatehouse` binary, on SQLite and PostgreSQL: the
//! policy's due scopes, a campaign created, previewed, launched, decided, reminded, signed
//! off and reported in every format; refusals with their codes and hints; remediation
//! verified by an import; decisions imported from a spreadsheet; a decision changed in the
//! database caught by `ledger verify`.

use std::process::{Command, Output};

use super::{Env, setup};

const POLICY: &str = "administrators = [\"E4\"]\ncompliance_owner = \"E4\"\nsigners = [\"E3\"]\n\
[defaults]\nstages = [\"manager\"]\nreminders = [7]\n\
[[scope]]\nname = \"sox-quarterly\"\nframeworks = [\"sox\"]\ncadence_days = 91\n";

/// Runs the binary at a given time.
fn at(env: &Env, now: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(env.dir.path())
        .env("GATEHOUSE_DB", &env.db)
        .env("GATEHOUSE_NOW", now)
        .env("GATEHOUSE_ACTOR", "cli:test")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_LEDGER_KEY")
        .env_remove("GATEHOUSE_IDENTITY")
        .output()
        .unwrap()
}

fn ok_at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = at(env, now, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "gatehouse {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fails_at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = at(env, now, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "gatehouse {args:?} should fail:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn campaign_flow(env: Env) {
    setup(&env);
    env.write("policy/reviews.toml", POLICY.as_bytes());
    // Logins from last month: nobody's access is dormant, so Ada's approved access is
    // recommended for keeping and Bob's direct one is decided by hand.
    env.write(
        "erp/accounts.csv",
        b"id,username,employee_id,email,kind,enabled,last_login\nu1,ada,E1,,human,true,2026-10-30\n\
u2,bob,E2,,human,true,2026-10-30\nu3,cy,,cy@example.com,human,true,2026-10-30\nu9,batch,,,service,true,\n",
    );
    let day = |d: &str| format!("2026-11-{d}T09:00:00Z");
    ok_at(
        &env,
        &day("01"),
        &["init", "--origin", "test.example/gatehouse"],
    );
    ok_at(
        &env,
        &day("01"),
        &["import", "hr", "people.csv", "--as-of", "2026-11-01"],
    );
    ok_at(
        &env,
        &day("01"),
        &["import", "system", "erp", "--as-of", "2026-11-01"],
    );

    let out = ok_at(&env, &day("02"), &["campaign", "due", "--format", "csv"]);
    assert!(
        out.contains("sox-quarterly,full,erp,91 days,never,,,yes"),
        "{out}"
    );

    // Who acts must be named, and be an administrator.
    let err = fails_at(
        &env,
        &day("02"),
        &["campaign", "create", "--scope", "sox-quarterly"],
    );
    assert!(
        err.starts_with("error[GH603]: create campaigns needs to know who is acting"),
        "{err}"
    );
    assert!(
        err.contains("hint: act as the right person with --as"),
        "{err}"
    );
    let err = fails_at(
        &env,
        &day("02"),
        &[
            "campaign",
            "create",
            "--scope",
            "sox-quarterly",
            "--as",
            "bob@example.com",
        ],
    );
    assert!(err.contains("E2 may not create campaigns"), "{err}");
    let out = ok_at(
        &env,
        &day("02"),
        &[
            "campaign",
            "create",
            "--scope",
            "sox-quarterly",
            "--as",
            "E4",
        ],
    );
    assert!(
        out.starts_with("created C-0001 `sox-quarterly full review 2026-11`"),
        "{out}"
    );

    // A refused command writes nothing, not even a checkpoint.
    let checkpoints = ok_at(
        &env,
        &day("02"),
        &["ledger", "checkpoints", "--format", "csv"],
    );
    let err = fails_at(&env, &day("02"), &["campaign", "report", "C-0001"]);
    assert!(
        err.starts_with("error[GH602]: campaign C-0001 is a draft: it has no population"),
        "{err}"
    );
    let err = fails_at(&env, &day("02"), &["campaign", "report", "--pack", "pci"]);
    assert!(
        err.starts_with("error[GH601]: the control mapping has no framework `pci`; it has: iso27001, nist-csf, owasp-nhi, soc2, sox"),
        "{err}"
    );
    let err = fails_at(
        &env,
        &day("02"),
        &["campaign", "decide", "C-0001", "1", "--keep", "--as", "E2"],
    );
    assert!(err.starts_with("error[GH602]"), "{err}");
    assert_eq!(
        ok_at(
            &env,
            &day("02"),
            &["ledger", "checkpoints", "--format", "csv"]
        ),
        checkpoints
    );
    assert!(!env.path("C-0001-report.pdf").exists());

    let out = ok_at(
        &env,
        &day("02"),
        &[
            "campaign",
            "preview",
            "C-0001",
            "--exclude",
            "account:erp:u9=batch account, reviewed with the NHI campaign",
        ],
    );
    assert!(out.starts_with("2 items: 0 privileged"), "{out}");
    assert!(
        out.contains(
            "excluded account:erp:u9: 1 grants (batch account, reviewed with the NHI campaign)"
        ),
        "{out}"
    );
    let out = ok_at(
        &env,
        &day("02"),
        &[
            "campaign",
            "launch",
            "C-0001",
            "--exclude",
            "account:erp:u9=batch account, reviewed with the NHI campaign",
            "--as",
            "E4",
        ],
    );
    assert!(out.contains("launched C-0001 (event"), "{out}");
    assert!(out.contains("2 items frozen at ledger size"), "{out}");
    let err = fails_at(
        &env,
        &day("02"),
        &["campaign", "launch", "C-0001", "--as", "E4"],
    );
    assert!(
        err.starts_with("error[GH602]: campaign C-0001 was launched on 2026-11-02"),
        "{err}"
    );

    // Ada's own grant goes up the escalation path; Bob's goes to Ada, his manager.
    let out = ok_at(
        &env,
        &day("02"),
        &["review", "inbox", "--reviewer", "E1", "--format", "csv"],
    );
    // The export says what it answers, when, and where it stands in the ledger.
    assert!(
        out.starts_with("# question: which review items wait for E1\n# asked at: 2026-11-02"),
        "{out}"
    );
    assert!(out.contains("\n# rows: 1\n"), "{out}");
    assert!(out.contains("\n# checkpoint: size "), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].contains(",C-0001/2,erp,u2,role/Vendor_Maint,E2,Bob Stone,E1,1/1,"),
        "{out}"
    );
    let out = ok_at(
        &env,
        &day("02"),
        &["campaign", "show", "C-0001", "--item", "1"],
    );
    assert!(
        out.contains("assignment: E1 (manager) holds the access"),
        "{out}"
    );

    // Refusals say why, with their code and a hint, and change nothing.
    let err = fails_at(
        &env,
        &day("03"),
        &["campaign", "decide", "C-0001", "1", "--keep", "--as", "E1"],
    );
    assert!(
        err.starts_with("error[GH604]: item C-0001/1 is E1's own access"),
        "{err}"
    );
    let err = fails_at(
        &env,
        &day("03"),
        &["campaign", "decide", "C-0001", "2", "--keep", "--as", "E3"],
    );
    assert!(
        err.starts_with("error[GH603]: item C-0001/2 is assigned to E1, not to E3"),
        "{err}"
    );
    let err = fails_at(
        &env,
        &day("03"),
        &[
            "campaign", "decide", "C-0001", "2", "--revoke", "--as", "E1",
        ],
    );
    assert!(
        err.starts_with("error[GH606]: item C-0001/2: a comment is required to revoke"),
        "{err}"
    );
    assert!(err.contains("hint: add --comment"), "{err}");
    let err = fails_at(
        &env,
        &day("03"),
        &[
            "campaign",
            "close",
            "C-0001",
            "--statement",
            "done",
            "--as",
            "E3",
        ],
    );
    assert!(
        err.starts_with("error[GH607]: campaign C-0001 has 2 undecided items of 2"),
        "{err}"
    );

    let out = ok_at(
        &env,
        &day("03"),
        &[
            "campaign",
            "decide",
            "C-0001",
            "2",
            "--revoke",
            "--comment",
            "moved to accounts payable",
            "--as",
            "E1",
        ],
    );
    assert!(out.contains("recorded: 1 decided (1 revoke)"), "{out}");
    assert!(out.contains("remediation tasks opened: C-0001/2"), "{out}");
    let err = fails_at(
        &env,
        &day("03"),
        &["campaign", "decide", "C-0001", "2", "--keep", "--as", "E1"],
    );
    assert!(
        err.starts_with("error[GH605]: item C-0001/2 was decided on 2026-11-03 by E1"),
        "{err}"
    );

    // The schedule reminds E4 a week before the due date; the compliance owner then decides.
    let out = ok_at(&env, &day("09"), &["campaign", "tick"]);
    assert!(out.contains("C-0001: reminded E4 (1 open)"), "{out}");
    let out = ok_at(&env, &day("09"), &["campaign", "tick"]);
    assert!(out.contains("nothing was due"), "{out}");
    ok_at(
        &env,
        &day("10"),
        &[
            "campaign",
            "decide",
            "C-0001",
            "--accept-recommendations",
            "--as",
            "E4",
        ],
    );

    // Sign-off: not by someone without the right, not by someone who decided items.
    let err = fails_at(
        &env,
        &day("11"),
        &[
            "campaign",
            "close",
            "C-0001",
            "--statement",
            "done",
            "--as",
            "E2",
        ],
    );
    assert!(
        err.starts_with("error[GH603]: E2 may not sign off campaign C-0001"),
        "{err}"
    );
    let err = fails_at(
        &env,
        &day("11"),
        &[
            "campaign",
            "close",
            "C-0001",
            "--statement",
            "done",
            "--as",
            "E4",
        ],
    );
    assert!(
        err.contains("may not sign off their own decisions"),
        "{err}"
    );
    let out = ok_at(
        &env,
        &day("11"),
        &[
            "campaign",
            "close",
            "C-0001",
            "--statement",
            "ERP access reviewed as required",
            "--as",
            "E3",
        ],
    );
    assert!(out.contains("closed and signed off C-0001"), "{out}");
    assert!(out.contains("1 keep, 1 revoke"), "{out}");
    let err = fails_at(
        &env,
        &day("11"),
        &["campaign", "decide", "C-0001", "1", "--keep", "--as", "E4"],
    );
    assert!(
        err.starts_with("error[GH602]: campaign C-0001 was closed on 2026-11-11"),
        "{err}"
    );
    let out = ok_at(&env, &day("11"), &["campaign", "list", "--format", "csv"]);
    assert!(
        out.contains("C-0001,sox-quarterly full review 2026-11,full,closed,E4,2,2,"),
        "{out}"
    );

    // Remediation: done by hand, verified only by the import that shows the grant gone.
    let out = ok_at(
        &env,
        &day("11"),
        &["remediation", "list", "--format", "csv"],
    );
    assert!(
        out.contains("C-0001/2,open,erp,u2,role/Vendor_Maint,E2,E1,"),
        "{out}"
    );
    assert!(
        out.contains("direct: assigned directly on `u2` on erp: remove the grant"),
        "{out}"
    );
    let err = fails_at(
        &env,
        &day("12"),
        &[
            "remediation",
            "done",
            "C-0001/2",
            "--note",
            "done",
            "--as",
            "E2",
        ],
    );
    assert!(err.starts_with("error[GH603]"), "{err}");
    ok_at(
        &env,
        &day("12"),
        &[
            "remediation",
            "done",
            "C-0001/2",
            "--note",
            "removed in SU01, CHG-7",
            "--as",
            "E1",
        ],
    );
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu9,role/Admin,direct,\n",
    );
    let out = ok_at(
        &env,
        &day("13"),
        &["import", "system", "erp", "--as-of", "2026-11-13"],
    );
    assert!(
        out.contains("remediation C-0001/2 verified: the grant is gone"),
        "{out}"
    );
    let out = ok_at(
        &env,
        &day("13"),
        &[
            "remediation",
            "list",
            "--status",
            "verified",
            "--format",
            "csv",
        ],
    );
    assert!(out.contains("C-0001/2,verified"), "{out}");

    // Evidence in every format, tied to the checkpoint the command signs.
    let out = ok_at(
        &env,
        &day("14"),
        &["campaign", "report", "C-0001", "--format", "xlsx"],
    );
    assert!(out.starts_with("wrote C-0001-report.xlsx"), "{out}");
    assert_eq!(
        &std::fs::read(env.path("C-0001-report.xlsx")).unwrap()[..2],
        b"PK"
    );
    ok_at(
        &env,
        &day("14"),
        // PDF unless told otherwise.
        &["campaign", "report", "C-0001"],
    );
    assert!(
        std::fs::read(env.path("C-0001-report.pdf"))
            .unwrap()
            .starts_with(b"%PDF-")
    );
    ok_at(
        &env,
        &day("14"),
        &[
            "campaign", "report", "C-0001", "--format", "csv", "-o", "r.csv",
        ],
    );
    let csv = std::fs::read_to_string(env.path("r.csv")).unwrap();
    assert!(
        csv.starts_with("# answers,\"Who reviewed which access in campaign C-0001"),
        "{csv}"
    );
    let out = ok_at(
        &env,
        &day("14"),
        &[
            "campaign", "report", "C-0001", "--format", "json", "-o", "r.json",
        ],
    );
    assert!(
        out.contains("events proven against the checkpoint"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("r.json")).unwrap()).unwrap();
    assert_eq!(json["items"][1]["task"]["status"], "verified");
    let out = ok_at(
        &env,
        &day("14"),
        &[
            "campaign",
            "report",
            "--pack",
            "sox",
            "--seed",
            "Q4",
            "--format",
            "json",
            "-o",
            "pack.json",
        ],
    );
    assert!(out.contains("samples drawn with seed `Q4`"), "{out}");
    // Workbooks and documents are reports' formats, not listings'.
    let out = at(&env, &day("14"), &["campaign", "list", "--format", "xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'xlsx' for '--format <FORMAT>'"),
        "{err}"
    );

    // Decisions taken in a spreadsheet: every bad row named; a good file imported.
    env.write(
        "q3.csv",
        b"grant,decision,reviewer,decided_at,comment\nerp:u1/role/AP_Approver,keep,E2,2026-10-01,\nerp:u1/role/Nope,keep,E2,2026-10-01,\n",
    );
    let err = fails_at(
        &env,
        &day("15"),
        &["import", "decisions", "q3.csv", "--as", "E4"],
    );
    assert!(
        err.contains("q3.csv:3: grant: `erp:u1/role/Nope` was never held"),
        "{err}"
    );
    env.write(
        "q3.csv",
        b"grant,decision,reviewer,decided_at,comment\nerp:u1/role/AP_Approver,keep,E2,2026-10-01,still approves invoices\n",
    );
    let out = ok_at(
        &env,
        &day("15"),
        &["import", "decisions", "q3.csv", "--as", "E4"],
    );
    assert!(
        out.starts_with("imported 1 decision from q3.csv as C-0002 (1 keep)"),
        "{out}"
    );

    // The ledger covers all of it; a decision changed in the database is caught.
    let out = ok_at(&env, &day("16"), &["ledger", "verify"]);
    assert!(out.starts_with("ledger OK"), "{out}");
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    gatehouse_store::testing::execute(
        &store,
        "UPDATE review_item SET verdict = 'keep', comment = 'never mind' WHERE campaign = 1 AND n = 2",
        &[],
    );
    drop(store);
    let err = fails_at(&env, &day("16"), &["ledger", "verify"]);
    assert!(
        err.starts_with("ledger verification FAILED: the state does not follow from the events"),
        "{err}"
    );
    assert!(err.contains("table `review_item`, row campaign=1, n=2: column `verdict` is \"keep\" but the events say \"revoke\""), "{err}");
}

both!(campaign_flow);
