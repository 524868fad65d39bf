"""Every source a rule, instrument, threshold or protocol may cite.

Evidence tags follow the clinic reference (``/work/shared/domain/clinical-reference.md``):

* ``S``  confirmed from the source named;
* ``S2`` secondary only (summary or copy) - check the primary paper before relying on it;
* ``U``  unconfirmed (general knowledge, not verified against the source);
* ``POLICY`` a clinic policy default with no published source - it must stay editable.

Anything tagged S2, U or POLICY that drives a decision lives in a clinic-editable data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Evidence(StrEnum):
    CONFIRMED = "S"
    SECONDARY = "S2"
    UNCONFIRMED = "U"
    POLICY = "POLICY"


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    evidence: Evidence
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "citation": self.citation,
            "evidence": self.evidence.value,
            "note": self.note,
        }


NO_SOURCE_NOTE = "clinic policy default, no published source"

_S = Evidence.CONFIRMED
_S2 = Evidence.SECONDARY
_U = Evidence.UNCONFIRMED

SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            "cohen2018",
            "Cohen SP et al. Consensus guidelines on the use of intravenous ketamine infusions "
            "for chronic pain. Reg Anesth Pain Med 2018;43(5):521-546. "
            "doi:10.1097/AAP.0000000000000808",
            _S2,
            "Full text not read; contents from the Medscape editors' summary and medcentral.",
        ),
        Source(
            "schwenk2018",
            "Schwenk ES et al. Consensus guidelines on the use of intravenous ketamine infusions "
            "for acute pain management. Reg Anesth Pain Med 2018. doi:10.1097/AAP.0000000000000806",
            _S2,
            "Pregnancy listed as a contraindication in the acute-pain guideline.",
        ),
        Source(
            "schwartzman2009",
            "Schwartzman RJ et al. Outpatient intravenous ketamine for the treatment of complex "
            "regional pain syndrome: a double-blind placebo controlled study. Pain 2009. "
            "doi:10.1016/j.pain.2009.08.015 (NCT00579085)",
            _S,
        ),
        Source(
            "goldberg2005",
            "Goldberg ME et al. Multi-day low dose ketamine infusion for the treatment of "
            "complex regional pain syndrome. Pain Physician 2005;8:175. PMID 16850072",
            _S,
        ),
        Source(
            "goldberg2010",
            "Goldberg ME et al. Pharmacodynamic profiles of ketamine (R)- and (S)- with 5-day "
            "inpatient infusion for the treatment of complex regional pain syndrome. PMC2950807",
            _S,
            "Title from general knowledge [U]; the regimen (10 to 40 mg/h over 5 days) is [S].",
        ),
        Source(
            "rch_lidocaine",
            "Royal Children's Hospital Melbourne. IV lignocaine (lidocaine) infusion for chronic "
            "pain. rch.org.au/anaes/pain_management/"
            "iv-lignocaine-lidocaine-infusion-for-chronic-pain",
            _S,
        ),
        Source(
            "painmed2018_lidocaine",
            "Tertiary pain clinic series of lidocaine infusion (1,000 mg/h for up to 30 min, at "
            "most 500 mg). Pain Med 2018. PMID 29016948",
            _S,
        ),
        Source(
            "foo2021",
            "Foo I et al. The use of intravenous lidocaine for postoperative pain and recovery: "
            "international consensus statement. Anaesthesia 2021;76:238-250. "
            "doi:10.1111/anae.15270",
            _S,
            "1.5 mg/kg IBW over 10 min, then <=1.5 mg/kg/h for <=24 h [S]; 120 mg/h cap, "
            "40 kg minimum, IBW formula and lipid emulsion come from summaries [S2].",
        ),
        Source(
            "bauer_lidocaine",
            "Bauer LA. Applied Clinical Pharmacokinetics, chapter 'Lidocaine' "
            "(basicmedicalkey.com/lidocaine)",
            _S,
        ),
        Source(
            "aneskey_lidocaine_toxicity",
            "Lidocaine toxicity risk factors and CYP-inhibitor interactions (aneskey.com)",
            _S,
        ),
        Source(
            "last_prodrome",
            "Local anaesthetic systemic toxicity staged warning signs (droracle.ai summary, "
            "consistent with Bauer)",
            _S2,
        ),
        Source(
            "wjem2020",
            "Sub-dissociative ketamine protocol for the emergency department. West J Emerg Med "
            "2020. PMC7081852 (exclusions: SBP >180 mmHg, HR >150, RR <10 or >30)",
            _S,
            "Acute-care exclusion thresholds used as a starting point for clinic soft limits.",
        ),
        Source(
            "rcht2022",
            "Royal Cornwall Hospitals NHS Trust. Ketamine infusion nursing guideline v6.0, 2022 "
            "(observations every 15 min in hour 1, every 30 min for 2 h, then hourly)",
            _S,
        ),
        Source(
            "harden2010",
            "Harden RN et al. Validation of proposed diagnostic criteria (the 'Budapest "
            "criteria') for complex regional pain syndrome. Pain 2010;150:268. Table in Marinus "
            "et al. Lancet Neurol 2011;10:637 (PMC5511749)",
            _S,
        ),
        Source(
            "wolfe2016",
            "Wolfe F et al. 2016 revisions to the 2010/2011 fibromyalgia diagnostic criteria. "
            "Semin Arthritis Rheum 2016;46:319-329",
            _S,
        ),
        Source(
            "bouhassira2005",
            "Bouhassira D et al. Comparison of pain syndromes associated with nervous or "
            "somatic lesions and development of a new neuropathic pain diagnostic questionnaire "
            "(DN4). Pain 2005 (scoring per gloshospitals.nhs.uk DN4 page)",
            _S,
            "DN4-interview cut-off of 3 is [S2].",
        ),
        Source(
            "bennett2001",
            "Bennett M. The LANSS Pain Scale: the Leeds assessment of neuropathic symptoms and "
            "signs. Pain 2001;92:147",
            _S,
        ),
        Source(
            "finnerup2015",
            "Finnerup NB et al. (NeuPSIG) Pharmacotherapy for neuropathic pain in adults: a "
            "systematic review and meta-analysis. Lancet Neurol 2015;14:162. "
            "doi:10.1016/S1474-4422(14)70251-0",
            _S,
        ),
        Source(
            "dworkin2008",
            "Dworkin RH et al. (IMMPACT) Interpreting the clinical importance of treatment "
            "outcomes in chronic pain clinical trials. J Pain 2008;9:105-121. "
            "doi:10.1016/j.jpain.2007.09.005",
            _S,
        ),
        Source(
            "farrar2001",
            "Farrar JT et al. Clinical importance of changes in chronic pain intensity measured "
            "on an 11-point numerical pain rating scale. Pain 2001;94:149",
            _S2,
        ),
        Source(
            "bpi_cleeland",
            "Cleeland CS. Brief Pain Inventory (short form). Copyright; licensed through MD "
            "Anderson (sralab.org instrument page)",
            _S,
            "Licence: copyrighted, fees listed for clinical use; licensor MD Anderson [U]. "
            "Missing-item rule not confirmed [U].",
        ),
        Source(
            "pgic_ninds",
            "Patient Global Impression of Change, 7-point scale (NINDS Common Data Elements); "
            "public domain",
            _S,
        ),
        Source(
            "kroenke2001",
            "Kroenke K, Spitzer RL, Williams JB. The PHQ-9. J Gen Intern Med 2001;16:606",
            _S,
            "Bands and item-9 rule confirmed from several consistent pages; primary citation [U].",
        ),
        Source(
            "sessler2002",
            "Sessler CN et al. The Richmond Agitation-Sedation Scale. Am J Respir Crit Care Med "
            "2002",
            _S,
        ),
        Source(
            "chernik1990",
            "Chernik DA et al. Validity and reliability of the Observer's Assessment of "
            "Alertness/Sedation Scale. J Clin Psychopharmacol 1990;10:244",
            _S,
        ),
        Source(
            "bremner1998",
            "Bremner JD et al. Measurement of dissociative states with the Clinician-Administered "
            "Dissociative States Scale (CADSS). J Trauma Stress 1998",
            _S,
            "Licence unclear [U]; item wording is not reproduced here.",
        ),
        Source(
            "rodrigues2021",
            "Rodrigues NB et al. CADSS-6 (items 1, 2, 6, 7, 15, 22). J Affect Disord 2021",
            _S,
        ),
        Source(
            "aldrete1995",
            "Aldrete JA. The post-anesthesia recovery score revisited. J Clin Anesth 1995;7:89-91",
            _U,
            "Not in the clinic reference; item wording and the >=9 discharge score are from "
            "general knowledge - verify against the paper.",
        ),
        Source(
            "chung1995_padss",
            "Chung F, Chan VW, Ong D. A post-anesthetic discharge scoring system for home "
            "readiness after ambulatory surgery. J Clin Anesth 1995;7:500-506 (PMID 8534468); "
            "modified PADSS items as tabulated at clinician.com/articles/38390 and World J "
            "Gastrointest Endosc 2013;5:502 Table 1",
            _S2,
            "Secondary copies of the modified PADSS (vital signs, ambulation, nausea and vomiting, "
            "pain, bleeding; 0-2 each; 9 or more of 10 for discharge with a responsible adult); "
            "check the paper before relying on the item wording.",
        ),
        Source(
            "snomed_valuesets",
            "SNOMED CT codes as listed in the clinic reference section 7 (Belgian eHealth FHIR "
            "value set, VSAC value sets); verify in the Canada Health Infoway terminology server",
            _S,
        ),
        Source(
            "harden2022",
            "Harden RN et al. Complex regional pain syndrome: practical diagnostic and treatment "
            "guidelines, 5th edition. Pain Med 2022;23(Suppl 1):S1-S53",
            _U,
            "Not in the clinic reference; first-line CRPS options from general knowledge.",
        ),
        Source(
            "macfarlane2017",
            "Macfarlane GJ et al. EULAR revised recommendations for the management of "
            "fibromyalgia. Ann Rheum Dis 2017;76:318-328",
            _U,
            "Not in the clinic reference; first-line fibromyalgia options from general knowledge.",
        ),
        Source(
            "cyp1a2_lidocaine",
            "CYP1A2 inhibitors (fluvoxamine, ciprofloxacin) raise lidocaine exposure",
            _U,
            "General pharmacology knowledge, not in the clinic reference - verify.",
        ),
        # --- clinical safety review (issue 11): contraindications, interactions, vocabulary ---
        Source(
            "ketamine_label",
            "Ketamine product labels: UK SmPC (Ketalar) and Swiss label - contraindicated where "
            "a rise in blood pressure is a serious hazard (severe coronary or myocardial disease, "
            "stroke, cerebral trauma), uncontrolled hypertension (Swiss label: > 180/100 mmHg at "
            "rest), untreated hyperthyroidism, hypersensitivity; additive sedation with "
            "benzodiazepines, opioids and gabapentinoids; hypertension and tachycardia with "
            "sympathomimetics and MAO inhibitors; lowered seizure threshold with theophylline",
            _S2,
            "As summarised in the clinic reference section 9; the labels were not re-read.",
        ),
        Source(
            "noppers2011",
            "Noppers IM et al. Drug-induced liver injury following a repeated course of ketamine "
            "treatment for chronic pain in CRPS type 1 patients: a report of 3 cases. "
            "Pain 2011;152:2173-2178",
            _S2,
            "3 of 6 CRPS patients had hepatotoxicity on a second 100-h S-ketamine infusion.",
        ),
        Source(
            "hagelberg2010",
            "Hagelberg NM et al. Clarithromycin, a potent inhibitor of CYP3A, greatly increases "
            "exposure to oral S-ketamine. Eur J Pain 2010",
            _S2,
            "Oral S-ketamine AUC x 2.6; direction applies to IV racemic ketamine, size may not.",
        ),
        Source(
            "peltoniemi2011",
            "Peltoniemi MA et al. Exposure to oral S-ketamine is unaffected by itraconazole but "
            "greatly increased by ticlopidine. Clin Pharmacol Ther 2011",
            _S2,
            "Ticlopidine (CYP2B6 inhibitor): oral S-ketamine AUC x 2.4.",
        ),
        Source(
            "peltoniemi2012",
            "Peltoniemi MA et al. Rifampicin has a profound effect on the pharmacokinetics of "
            "oral S-ketamine and less on intravenous S-ketamine. Basic Clin Pharmacol Toxicol 2012",
            _S2,
            "Rifampicin (inducer): oral S-ketamine AUC - 86 %.",
        ),
        Source(
            "conrad1983",
            "Conrad KA et al. Lidocaine elimination: effects of metoprolol and of propranolol. "
            "Clin Pharmacol Ther 1983;33:133-138. doi:10.1038/clpt.1983.20 "
            "(abstract at zendy.io/title/10.1038/clpt.1983.20)",
            _S,
            "Abstract read: lidocaine clearance 0.88 L/h/kg alone, 0.61 with metoprolol, 0.47 "
            "with propranolol (6 healthy men).",
        ),
        Source(
            "lidocaine_antiarrhythmic_label",
            "Lidocaine hydrochloride for ventricular arrhythmias, product labelling: "
            "contraindicated in Wolff-Parkinson-White syndrome and in severe sinoatrial, "
            "atrioventricular or intraventricular block in the absence of an artificial pacemaker",
            _U,
            "Recalled from the antiarrhythmic lidocaine label; the label text was not found in "
            "the stored library - verify before relying on it.",
        ),
        Source(
            "phn_definition",
            "Postherpetic neuralgia: pain persisting at least 3 months (90 days) after the onset "
            "of the herpes zoster rash (the common research definition)",
            _U,
            "General knowledge, not in the clinic reference - verify; the interval is clinic "
            "configurable (conditions.json).",
        ),
        Source(
            "health_canada_dpd",
            "Health Canada Drug Product Database (DPD) data extract. canada.ca/en/health-canada/"
            "services/drugs-health-products/drug-products/drug-product-database/"
            "what-data-extract-drug-product-database.html (files listed as last updated "
            "2025-08-13)",
            _U,
            "Brand names in medications.json were NOT checked against a DPD release (no extract "
            "available offline); to be verified by the clinic pharmacist.",
        ),
        Source(
            "canada988",
            "9-8-8: Suicide Crisis Helpline (Canada; call or text 9-8-8, 24 hours a day, free; "
            "launched 30 November 2023, operated by CAMH for the Public Health Agency of "
            "Canada). cmhasaskatoon.ca/9-8-8/ and the Government of Canada launch notice as "
            "reprinted at napaneebeaver.ca; 988.ca itself not read",
            _S2,
            "Secondary pages only: the clinic confirms the numbers in escalation_policy.json.",
        ),
        Source("clinic_policy", "Clinic policy", Evidence.POLICY, NO_SOURCE_NOTE),
    )
}


def get_source(key: str) -> Source:
    try:
        return SOURCES[key]
    except KeyError:
        raise KeyError(f"unknown source {key!r}") from None


def cite(keys: tuple[str, ...] | list[str]) -> str:
    """One readable citation string for a list of source keys (used in reasons)."""
    parts = []
    for key in keys:
        source = get_source(key)
        parts.append(f"{source.key} [{source.evidence.value}]")
    return "; ".join(parts)
