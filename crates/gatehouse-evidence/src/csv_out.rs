//! CSV: a preamble of `#` lines (what it answers, when, at which checkpoint), the main table,
//! then, after an empty line, the inclusion proofs of the events the rows cite. Every text
//! cell is neutralised against formula injection.

use gatehouse_workflow::campaigns::report::{
    CampaignReport, EventProof, EvidencePack, HistoryReport,
};

use crate::EvidenceError;
use crate::rows::{self, Cell};

struct Out {
    w: csv::Writer<Vec<u8>>,
}

impl Out {
    fn new() -> Out {
        Out {
            w: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Vec::new()),
        }
    }

    fn preamble(&mut self, pairs: &[(String, String)]) -> Result<(), EvidenceError> {
        for (k, v) in pairs {
            self.w
                .write_record([format!("# {k}"), rows::neutralise(v).into_owned()])?;
        }
        Ok(())
    }

    fn table(
        &mut self,
        headers: &[&str],
        body: impl IntoIterator<Item = Vec<Cell>>,
    ) -> Result<(), EvidenceError> {
        self.w.write_record(headers)?;
        for row in body {
            self.w
                .write_record(row.iter().map(|c| c.as_text().into_owned()))?;
        }
        Ok(())
    }

    fn gap(&mut self) -> Result<(), EvidenceError> {
        self.w.write_record([""])?;
        Ok(())
    }

    fn proofs(&mut self, proofs: &[EventProof]) -> Result<(), EvidenceError> {
        self.gap()?;
        self.table(rows::PROOF_HEADERS, proofs.iter().map(rows::proof_cells))
    }

    fn finish(self) -> Result<Vec<u8>, EvidenceError> {
        self.w
            .into_inner()
            .map_err(|e| EvidenceError::Write(e.to_string()))
    }
}

pub(crate) fn campaign(r: &CampaignReport) -> Result<Vec<u8>, EvidenceError> {
    let mut out = Out::new();
    out.preamble(&rows::summary(r))?;
    for e in &r.exceptions {
        out.preamble(&[("exception".into(), e.clone())])?;
    }
    out.table(rows::ITEM_HEADERS, r.items.iter().map(rows::item_cells))?;
    out.proofs(&r.proofs)?;
    out.finish()
}

pub(crate) fn pack(p: &EvidencePack) -> Result<Vec<u8>, EvidenceError> {
    let mut out = Out::new();
    out.preamble(&rows::pack_summary(p))?;
    out.table(rows::CONTROL_HEADERS, rows::control_cells(p))?;
    for c in &p.controls {
        out.gap()?;
        out.preamble(&[(
            format!("sample of {} {}", c.control.framework, c.control.id),
            format!("{} of {} items", c.sample.len(), c.population),
        )])?;
        for e in &c.exceptions {
            out.preamble(&[("exception".into(), e.clone())])?;
        }
        let mut headers = vec!["control"];
        headers.extend_from_slice(rows::ITEM_HEADERS);
        out.table(
            &headers,
            c.sample.iter().map(|i| {
                let mut row = vec![Cell::from(c.control.id.as_str())];
                row.extend(rows::item_cells(i));
                row
            }),
        )?;
    }
    out.proofs(&p.proofs)?;
    out.finish()
}

pub(crate) fn history(h: &HistoryReport) -> Result<Vec<u8>, EvidenceError> {
    let mut out = Out::new();
    out.preamble(&rows::history_summary(h))?;
    out.table(rows::HISTORY_HEADERS, rows::history_cells(h))?;
    out.gap()?;
    out.table(
        &["recurring finding", "campaigns"],
        h.recurring_findings
            .iter()
            .map(|(f, n)| vec![Cell::from(f.as_str()), Cell::from(*n)]),
    )?;
    out.gap()?;
    out.table(
        &["reviewer", "items escalated or replaced", "items defaulted"],
        h.overdue_reviewers
            .iter()
            .map(|(r, e, d)| vec![Cell::from(r.as_str()), Cell::from(*e), Cell::from(*d)]),
    )?;
    out.finish()
}
