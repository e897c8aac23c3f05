//! The demo content a new workspace starts with: a mailbox, an example
//! agent, a cron script, and a greeting.

use agentos_kernel::Kernel;

const MOTD: &str = "\
Welcome to Agent OS. This workspace holds a little demo content:
  ls /integrations/mail/inbox       three messages
  cat /agents/triage.sh             an example agent (a shell script)
  /agents/triage.sh; cat /data/triage.txt
  cat /etc/crontab /scripts/daily.sh
  job-finder --role \"ML Engineer\" | tailor-cv | tee /data/applications.jsonl
                                    two agents joined by a typed port
Ctrl-C interrupts a command, Ctrl-D leaves, Tab completes.

";

const MEETING: &str = "\
From: Dana Reyes <dana@example.com>
To: you@example.com
Subject: Meeting invite: roadmap review, Thursday 10:00
Date: Mon, 23 Nov 2026 09:12:00 +0000

Hi, could we go through the Q1 roadmap on Thursday at 10:00? Agenda attached.
";

const INVESTOR: &str = "\
From: Sam Okafor <sam@fund.example>
To: you@example.com
Subject: Investor update request
Date: Tue, 24 Nov 2026 16:40:00 +0000

Could you send the monthly update (revenue, burn, hires) by Friday? Urgent.
";

const RECEIPT: &str = "\
From: billing@cloud.example
To: you@example.com
Subject: Your receipt: invoice 2026-11
Date: Wed, 25 Nov 2026 06:00:00 +0000

Amount paid: 412.00 EUR. Thank you.
";

const TRIAGE: &str = r#"#!/bin/sh
# An example agent: sorts the inbox into urgent and the rest.
# Run it as /agents/triage.sh; it writes /data/triage.txt.
inbox=/integrations/mail/inbox
out=/data/triage.txt
: > $out
for mail in $inbox/*.eml; do
    subject=$(grep '^Subject:' $mail | cut -d: -f2-)
    case "$subject" in
        *[Uu]rgent*|*request*) echo "urgent:$subject" >> $out ;;
        *) if grep -qi urgent $mail; then echo "urgent:$subject" >> $out; else echo "later: $subject" >> $out; fi ;;
    esac
done
echo "triaged $(wc -l < $out) messages into $out"
"#;

const DAILY: &str = r#"#!/bin/sh
# Run every morning by /etc/crontab: triage the inbox, keep a dated log.
/agents/triage.sh >> /var/log/daily.log
date >> /var/log/daily.log
"#;

const CRONTAB: &str = "\
# minute hour day month weekday  command
0 7 * * *  /scripts/daily.sh
";

/// Writes the demo content into a workspace that has none yet (no
/// `/etc/motd`); a workspace seeded once is left as its user keeps it.
pub async fn seed(kernel: &Kernel, user: &str) -> anyhow::Result<()> {
    if kernel.read_file("/etc/motd").await.is_ok() {
        return Ok(());
    }
    for dir in ["/integrations/mail/inbox", "/integrations/mail/outbox", "/var/log"] {
        kernel.create_dir_all(dir).await?;
    }
    let files = [
        ("/integrations/mail/inbox/meeting_invite.eml", MEETING),
        ("/integrations/mail/inbox/investor_update.eml", INVESTOR),
        ("/integrations/mail/inbox/receipt.eml", RECEIPT),
        ("/agents/triage.sh", TRIAGE),
        ("/scripts/daily.sh", DAILY),
        ("/etc/crontab", CRONTAB),
    ];
    for (path, text) in files {
        kernel.write_file(path, text.as_bytes()).await?;
    }
    // Example agents that hand each other typed records (on the shell's PATH).
    let agents = [
        ("/agents/job-finder", agentos_artifacts::components::JOB_FINDER),
        ("/agents/tailor-cv", agentos_artifacts::components::TAILOR_CV),
        ("/agents/shortlist", agentos_artifacts::components::SHORTLIST),
        ("/agents/mail-digest", agentos_artifacts::components::MAIL_DIGEST),
    ];
    for (path, bytes) in agents {
        kernel.write_file(path, bytes).await?;
    }
    let readme = format!("Hello, {user}. Your home is /home/{user}; /data keeps every version of every file.\n");
    kernel.write_file(&format!("/home/{user}/README"), readme.as_bytes()).await?;
    // Last: a workspace is seeded exactly when it has its motd.
    kernel.write_file("/etc/motd", MOTD.as_bytes()).await?;
    Ok(())
}
