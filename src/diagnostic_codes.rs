//! The catalogue of diagnostic codes: every code gauntlet reports, defined
//! once with a one-line explanation. `docs/errors.md` lists them all (a
//! test keeps it in sync), so a user who meets `error[duplicate-id]` can
//! look it up, and a script can key on the code.

macro_rules! catalogue {
    ($( $variant:ident = $name:literal : $explanation:literal => $fix:literal, )*) => {
        /// A stable diagnostic code. The kebab-case name is the interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( #[doc = $explanation] $variant, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The kebab-case name shown as `error[name]`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// What the code means, in one line.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explanation,)* }
            }

            /// What to do about it, in one line.
            pub fn fix(self) -> &'static str {
                match self { $(Code::$variant => $fix,)* }
            }

            /// The code named `name`.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* _ => None }
            }
        }

        impl serde::Serialize for Code {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for Code {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Code::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code `{name}`")))
            }
        }

        impl schemars::JsonSchema for Code {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Code".into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // Built as a list first: a literal of every name would pass
                // the json macro's recursion limit.
                let names: Vec<&str> = vec![$($name),*];
                schemars::json_schema!({
                    "description": "A diagnostic code of docs/errors.md.",
                    "type": "string",
                    "enum": names
                })
            }
        }
    };
}

catalogue! {
    AmbiguousPayload = "ambiguous-payload": "A case has both `input` and `messages`; it must have exactly one." => "Keep `input` for one text or `messages` for a conversation, and remove the other.",
    BudgetExceeded = "budget-exceeded": "The run's plan sends more requests than `max-requests`, or costs more than `max-cost`: nothing was sent." => "Lower the plan (`--lane preflight`, fewer transforms or `--budget`) or raise `max-requests` / `max-cost`; `--dry-run` prints the plan.",
    ConflictingLabels = "conflicting-labels": "Warning: the same input is labelled benign in one place and adversarial in another." => "Decide which label is right and fix the other line (or drop one of the duplicates).",
    CreatedInFuture = "created-in-future": "A waiver's `created` date lies after today." => "Set `created` to the day the waiver was written.",
    DatasetNotFetched = "dataset-not-fetched": "A corpus.toml `[fetch]` dataset is not in the cache, or was never verified and locked: run `gauntlet corpus fetch`." => "Run `gauntlet corpus fetch` (online) and commit corpus.lock.",
    DuplicateCase = "duplicate-case": "The same case id appears in more than one shard given to `merge`, or twice in one results.jsonl." => "Give each shard folder once, and regenerate a results.jsonl that holds a case twice.",
    DuplicateFixtureCase = "duplicate-fixture-case": "A fixture suite names the same case twice." => "Remove one of the two `[[case]]` entries, or rename it.",
    DuplicateGateId = "duplicate-gate-id": "Two gates share an id; gate ids are unique across gates/*.toml." => "Rename one of the gates; ids are unique across every file in gates/.",
    DuplicateId = "duplicate-id": "Two corpus cases share an id; ids are unique across the run." => "Give one of the cases a new id, or remove the duplicate line.",
    DuplicateLog = "duplicate-log": "`gauntlet release` was given the same decision log twice (the same bytes): its decisions would count twice." => "Give each decision log once.",
    DuplicateShard = "duplicate-shard": "Two folders given to `merge` hold the same shard." => "Give each runner's folder once; the message names the shard.",
    DuplicateSignOff = "duplicate-sign-off": "Two sign-off records name the same incident." => "Merge the two records, or give the second its own incident id.",
    DuplicateWaiver = "duplicate-waiver": "Two waivers cover the same target and scope." => "Keep one waiver per gate or case and scope; remove the other.",
    DuplicateWaiverId = "duplicate-waiver-id": "Two waivers share an id." => "Give one of the waivers a new id.",
    EmptyCorpus = "empty-corpus": "`corpora` lists no path, or the paths hold no case." => "List a folder that holds corpus files in `[run] corpora`, or add cases to it.",
    EmptyField = "empty-field": "A required text field is present but empty." => "Write the value, or remove the key if it is optional.",
    EmptyFile = "empty-file": "Warning: a data file holds no case." => "Add cases to the file or delete it.",
    EmptyInput = "empty-input": "Warning: a case's input is empty (or only white space)." => "Write the case's text, or remove the case.",
    EmptyLanes = "empty-lanes": "A gate's `lanes` list is empty, so it would never run." => "List `preflight`, `full` or both in `lanes`, or remove the key for both.",
    ExpiredWaiver = "expired-waiver": "`gauntlet check`: a waiver's `expires` date has passed (a run fails its waiver-lifecycle gate)." => "Fix the failure and delete the waiver, or write a new one (a waiver is not extended in place).",
    ExpiresBeforeCreated = "expires-before-created": "A waiver's `expires` date is not after its `created` date." => "Set `expires` after `created` (at most `max-days` later).",
    ExpiringWaiver = "expiring-waiver": "Warning from `gauntlet check`: a waiver expires within the policy's expiring-soon days." => "Plan the fix now; the waiver fails CI the day after `expires`.",
    FileExists = "file-exists": "`gauntlet init` would overwrite a file that already exists." => "Run `gauntlet init` in an empty folder, or move the file away.",
    GateAndCase = "gate-and-case": "A waiver names both a `gate` and a `case`; it waives one or the other." => "Keep `gate` to waive a gate or `case` to waive one fixture case, not both.",
    HashInId = "hash-in-id": "With `[transforms]`, a case id holds `#`, which variant ids (`<id>#<transform>`) use." => "Rename the case without `#`.",
    HashMismatch = "hash-mismatch": "A fetched dataset's SHA-256 differs from the manifest's `sha256` or from corpus.lock (or the two disagree)." => "If the upstream file changed on purpose, review it, pin the new revision in `[fetch] url` and delete corpus.lock to trust it; otherwise the download was corrupted or tampered with.",
    IncomparableRuns = "incomparable-runs": "`gauntlet diff`: the two runs share no case or count outcomes differently." => "Compare two runs of the same corpora and counting policy.",
    InputOrRef = "input-or-ref": "A fixture case needs exactly one of `input` or `ref`." => "Write either `input` (the text) or `ref` (a corpus case id), not both or neither.",
    InsecureUrl = "insecure-url": "An http target's `url` is plain http:// to a host that is not loopback: use https://, or set `allow-http = true` to send the corpus unencrypted on purpose." => "Use https://, or set `allow-http = true` if sending the corpus unencrypted is intended.",
    InvalidBound = "invalid-bound": "`bound` is set on a gate whose metric has no interval (only rates have one)." => "Remove `bound`: only rates have an interval to compare.",
    InvalidCalibration = "invalid-calibration": "A calibration.json cannot be read as a gauntlet calibration review." => "Run `gauntlet calibrate` again to rewrite the file.",
    InvalidCase = "invalid-case": "A JSONL line is valid JSON but not a case object." => "Make the line a JSON object with at least `input` (or `messages`), `label` and `category`.",
    InvalidContext = "invalid-context": "A case's `context` is not a JSON object." => "Make `context` a JSON object, such as `{\"prompt\": \"...\"}`.",
    InvalidCost = "invalid-cost": "A `[counting] costs` key is not EXPECTED->ACTUAL, or its weight is negative." => "Write keys as `\"block->allow\"` with a weight of 0 or more.",
    InvalidCsv = "invalid-csv": "A CSV file cannot be parsed (unbalanced quotes, ragged rows)." => "Fix the quoting or the row at the named line.",
    InvalidDate = "invalid-date": "A date is not a valid YYYY-MM-DD date." => "Write the date as `\"YYYY-MM-DD\"`.",
    InvalidDecision = "invalid-decision": "A decision is not allow, block or require_approval." => "Use `allow`, `block` or `require_approval` (a map such as `decision-map` translates others).",
    InvalidDirection = "invalid-direction": "A case's `direction` is not ingress or egress." => "Use `ingress` or `egress`.",
    InvalidExpected = "invalid-expected": "A case's `expected` is not allow, block or require_approval." => "Use `allow`, `block` or `require_approval`.",
    InvalidExpectedFirstBlock = "invalid-expected-first-block": "`expected-first-block` is not an index of a message in the conversation." => "Give the index of a message of that conversation (from 0).",
    InvalidFetch = "invalid-fetch": "A corpus.toml `[fetch]` url is not https (plain http only to loopback or a mirror), names no file, or its `sha256` is not 64 hex digits." => "Use an https URL naming a file, pinned to a revision, and a 64-digit hex `sha256` (or leave it out for the first fetch).",
    InvalidGateId = "invalid-gate-id": "A gate id holds characters other than lowercase letters, digits, `-`, `_`, `:` and `.`." => "Rename the gate using lowercase letters, digits, `-`, `_`, `:` or `.`.",
    InvalidGlob = "invalid-glob": "A `[[file]] path` pattern in corpus.toml is not a valid glob." => "Fix the pattern (`*` within a folder, `**` across folders).",
    InvalidId = "invalid-id": "A case id is not a non-empty string or number." => "Give the case a non-empty string or number as `id`, or leave it out to derive one.",
    InvalidInput = "invalid-input": "A case's `input` is neither a string nor a JSON object." => "Make `input` a string, or a JSON object for a structured request.",
    InvalidJson = "invalid-json": "A JSONL line is not valid JSON." => "Fix the JSON at the named line and column (one object per line).",
    InvalidLabel = "invalid-label": "A label is not benign or adversarial (after the manifest's `label-map`)." => "Use `benign` or `adversarial`, or map the dataset's values with `label-map`.",
    InvalidLoad = "invalid-load": "A load.json given to `merge` cannot be read as a gauntlet load report." => "Merge the load.json files that `gauntlet load --partition` wrote, unedited; rerun the load if one is damaged.",
    InvalidAttack = "invalid-attack": "The reports folder's attack.json, read by `release` as evidence, cannot be read as a gauntlet attack report: run `gauntlet attack` again." => "Run `gauntlet attack` again to rewrite attack.json.",
    InvalidLock = "invalid-lock": "corpus.lock cannot be read, or it was written for another URL than `[fetch] url`." => "Delete corpus.lock and run `gauntlet corpus fetch` to lock the current URL again.",
    InvalidLogLine = "invalid-log-line": "A decision-log line cannot be read (not JSON, or a field of the wrong type)." => "Fix the named line: one JSON object per line, fields of the documented types.",
    InvalidMessages = "invalid-messages": "`messages` is not a non-empty list of {role, content}." => "Write `messages` as a non-empty list of `{\"role\": ..., \"content\": ...}`.",
    InvalidParquet = "invalid-parquet": "A .parquet corpus file cannot be read (not Parquet, corrupt, or compressed with a codec other than snappy, zstd or gzip)." => "Re-export the file as Parquet with snappy, zstd or gzip compression.",
    InvalidPattern = "invalid-pattern": "A rule pattern in a rules file, or an http target's `decision-text` regex, is not a valid regular expression." => "Fix the regular expression (the message gives the parser's reason).",
    InvalidPointer = "invalid-pointer": "A JSON pointer in the http target's mapping does not start with `/`." => "Start the JSON pointer with `/`, such as `/results/0/flagged`.",
    InvalidPrometheusName = "invalid-prometheus-name": "A `[release.metrics]` name is not a Prometheus metric or label name (it is written into PromQL unquoted)." => "Use a name of letters, digits, `_` and `:` (labels: no `:`, not starting with `__`).",
    InvalidResult = "invalid-result": "A results.jsonl line cannot be read back as a case result." => "Regenerate results.jsonl with `gauntlet run`; do not edit it.",
    InvalidScope = "invalid-scope": "A waiver's `scope` is not preflight, full or both." => "Use `preflight`, `full` or `both`.",
    InvalidSignOff = "invalid-sign-off": "A sign-off record is missing a field, has an empty one, an unknown key or a date that is not \"YYYY-MM-DD\"." => "Fill every field (incident, owner, date, mitigation, rules) and quote the date as `\"YYYY-MM-DD\"`.",
    InvalidTags = "invalid-tags": "A case's `tags` is not a list of strings." => "Write `tags` as a list of strings (in CSV, `;`-separated).",
    InvalidTemplate = "invalid-template": "The http target's `body` template is not valid." => "Fix the placeholder (`{{ input }}`, `{{ chat }}`, ...); the message names the position.",
    InvalidTenant = "invalid-tenant": "A tenant id is empty, repeated, or (in a decision log) longer than 200 characters." => "Give each tenant a unique, non-empty id of at most 200 characters.",
    InvalidThreshold = "invalid-threshold": "A threshold is out of range: a gate with neither or both of `max` and `min`, a rate outside [0, 1], or a firewall threshold outside [0, 1]." => "Give exactly one of `max` and `min`, with a rate as a fraction (10% is 0.10).",
    InvalidTimestamp = "invalid-timestamp": "A decision-log `ts` is neither RFC 3339 nor epoch seconds." => "Write `ts` as RFC 3339 or epoch seconds (milliseconds over 1e11 are read as such).",
    InvalidToml = "invalid-toml": "The file is not valid TOML, or a key is unknown or of the wrong type." => "Fix the TOML at the named line and column; for an unknown key, the message lists the known ones.",
    InvalidUtf8 = "invalid-utf8": "A corpus file is not valid UTF-8." => "Convert the file to UTF-8 (most editors and `iconv -t UTF-8` do).",
    InvalidVariant = "invalid-variant": "A corpus line has `origin` without `transform` or the other way round (a variant needs both)." => "Give both `origin` and `transform`, or neither.",
    InvalidVerdict = "invalid-verdict": "A verdict.json cannot be read as a gauntlet verdict." => "Run `gauntlet run` again to rewrite the verdict, unedited.",
    InvalidWeight = "invalid-weight": "A rule weight is 0 or outside [-1, 1]." => "Give the rule a weight in [-1, 1], not 0.",
    InvalidWindow = "invalid-window": "A burn-rate window needs 0 < short-minutes < long-minutes and factor > 0." => "Make `short-minutes` smaller than `long-minutes`, both positive, and `factor` above 0.",
    JournalMismatch = "journal-mismatch": "`run --resume`: the config, corpora, gate files, target, replayed cases, lane or repeat count changed since the interrupted run, so its recorded outcomes cannot be reused." => "Run without `--resume` to start over, or restore what changed.",
    KeyNotForKind = "key-not-for-kind": "A `[target]` key does not apply to the chosen target kind." => "Remove the key, or change `kind` to the one it belongs to (the configuration reference says which).",
    MissingCategory = "missing-category": "A case has no category and the manifest gives no `default-category`." => "Add a `category` to the case, or `default-category` to corpus.toml.",
    MissingCorpus = "missing-corpus": "A path in `corpora` does not exist." => "Fix the path in `[run] corpora`, or create the folder.",
    MissingDecision = "missing-decision": "A decision-log line has no decision." => "Log the decision on every line that has no error.",
    MissingEnv = "missing-env": "A header or body names an environment variable that is not set (a preset's key variable included)." => "Set the variable (in CI, from a secret), or give the value another way.",
    MissingField = "missing-field": "A required key is missing." => "Add the key the message names.",
    MissingFolder = "missing-folder": "A folder named in `[run]` (waivers, fixtures) does not exist." => "Create the folder, or remove the key to use the default.",
    MissingInput = "missing-input": "A case has neither `input` nor `messages`." => "Add `input` (a text) or `messages` (a conversation).",
    MissingLabel = "missing-label": "A case has no label and the manifest gives no `default-label`." => "Add a `label` to the case, or `default-label` to corpus.toml.",
    MissingShard = "missing-shard": "No folder given to `merge` holds this shard." => "Give `merge` every runner's folder.",
    MissingShardFile = "missing-shard-file": "A shard folder lacks its verdict.json or results." => "Give the folder a shard run wrote (verdict.json and results.jsonl), not another.",
    MissingTarget = "missing-target": "A waiver names neither a `gate` nor a `case`." => "Name the `gate` or the `case` the waiver covers.",
    NoGates = "no-gates": "The gates folder is missing or holds no gate: a run without a gate could never fail." => "Add a gates/*.toml file with at least one `[[gate]]`.",
    NotAShard = "not-a-shard": "A folder given to `merge` holds the verdict of an unpartitioned run." => "Merge only folders of runs made with `--partition M/N`.",
    OutOfRange = "out-of-range": "A number is outside the range its key allows." => "Use a value in the range the message gives.",
    ReservedGateId = "reserved-gate-id": "A gate id is one gauntlet uses for a gate of its own." => "Rename the gate; the message names the reserved id.",
    ShardCountMismatch = "shard-count-mismatch": "Shards given to `merge` were split into different numbers of parts." => "Run every shard with the same `--partition .../N`.",
    ShardMismatch = "shard-mismatch": "Shards given to `merge` come from different configs, corpora, gates, targets or lanes." => "Run every shard from the same commit, config and lane.",
    SignOffInFuture = "sign-off-in-future": "A sign-off is dated after today: it is not signed yet." => "Date the sign-off the day it is signed.",
    UnknownCase = "unknown-case": "A waiver names a fixture case that does not exist." => "Use a case name of the fixture suites (`suite/case`), or remove the waiver.",
    UnknownColumn = "unknown-column": "A corpus.toml mapping names a column (CSV) or key (JSONL) the data file does not have." => "Name a column or key the file has (the message lists them), or fix the file.",
    UnknownDataset = "unknown-dataset": "`gauntlet corpus add` names no dataset of the catalogue (`gauntlet corpus list` shows them)." => "Pick a name from `gauntlet corpus list`.",
    UnknownField = "unknown-field": "A key that the format does not define (a typo such as `lable`)." => "Fix the key's spelling (the message lists the known keys) or remove it.",
    UnknownGate = "unknown-gate": "A waiver names a gate that does not exist." => "Use a gate id from gates/*.toml, or remove the waiver.",
    UnknownPreset = "unknown-preset": "An http target's `preset` names no known guard-API preset." => "Use one of the presets the message lists, or leave `preset` out and map the answer yourself.",
    UnknownRef = "unknown-ref": "A fixture's `ref` names no corpus case." => "Use a corpus case id in `ref`, or write the input itself.",
    UnknownRule = "unknown-rule": "A sign-off or a promotion stage names a rule that is not one of `[release.signals]` (a sign-off would clear nothing)." => "Use a rule id of `[release.signals] rules`, or add the rule.",
    UnknownSchema = "unknown-schema": "A file's `schema` is not one this version of gauntlet reads." => "Use a gauntlet version that reads this file, or regenerate the file with this one.",
    UnknownStage = "unknown-stage": "`gauntlet release --stage` names no stage of `[release.promotion]`." => "Name a stage of `[release.promotion] stages`.",
    UnknownTargetKind = "unknown-target-kind": "`[target] kind` is not builtin, exec or http." => "Use `builtin`, `exec` or `http`.",
    UnknownTransform = "unknown-transform": "`[transforms]` names a transform or template that does not exist, or a templates file is invalid." => "Use a built-in transform or a template of the templates file (the guide's Robustness chapter lists them), or fix the templates file.",
    UnmatchedFilePattern = "unmatched-file-pattern": "A corpus.toml `[[file]]` pattern matches no data file." => "Fix the pattern, or add the data file.",
    UnmatchedFilter = "unmatched-filter": "Warning: a gate's `where` value matches no loaded case (a typo in a category, source or tag?)." => "Fix the value's spelling, or remove the gate if nothing should match.",
    UnquotedDate = "unquoted-date": "A waiver date is a bare TOML date; write it as a quoted \"YYYY-MM-DD\" string." => "Quote the date: `\"YYYY-MM-DD\"`.",
    UnreadableCaFile = "unreadable-ca-file": "An http target's `ca-file` cannot be read, or holds no PEM certificate." => "Point `ca-file` at a readable PEM file holding the CA (or the server's self-signed certificate).",
    UnreadableClientCert = "unreadable-client-cert": "`client-cert` or `client-key` cannot be read as PEM, or only one of the two is set." => "Give both `client-cert` and `client-key`, as readable PEM files.",
    UnreadableConfig = "unreadable-config": "The config file cannot be read." => "Check the path given to `--config` and the file's permissions.",
    UnreadableFile = "unreadable-file": "A file cannot be read." => "Check the path and the file's permissions.",
    UnreadableJournal = "unreadable-journal": "`run --resume`: a line of the run journal (other than a last line cut short by the interruption) cannot be read." => "Run without `--resume` to start over; the journal is damaged at the named line.",
    UnsupportedCaseKind = "unsupported-case-kind": "The corpora hold a kind of case (a conversation, an egress response, structured input) the target's preset cannot send." => "Keep cases of that kind out of this target's corpora (a lane or a separate project), or use a target that takes them.",
    UnsupportedTarget = "unsupported-target": "The target kind is not available in this build." => "Use a build with that target kind, or another kind.",
    UnwaivableGate = "unwaivable-gate": "A waiver names a gate that cannot be waived (waiver-lifecycle)." => "Fix the waiver problem itself; the lifecycle gate cannot be waived.",
    UnwritableReports = "unwritable-reports": "The reports folder cannot be created or written." => "Choose a writable `reports` folder or `--out`.",
    WaiverTooLong = "waiver-too-long": "A waiver runs longer than the project's `max-days` (at most 30)." => "Shorten the waiver to `max-days`; renew it with a new waiver if needed.",
    WhereNotForMetric = "where-not-for-metric": "A gate's `where` narrows the cases, but its metric (`load-*`) is judged over a whole load run." => "Remove `where`; the metric is judged over the whole run of its command.",
    WrongType = "wrong-type": "A key holds a value of the wrong type (a number where text is expected)." => "Write the value with the type the message names.",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers compare with the name.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `docs/errors.md`, generated from the catalogue (a test keeps the file in
/// step with this).
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Every input problem is printed as `path:line[:column]: error[code]: message`,\n\
         all of them at once, and gauntlet exits with 2. The codes are stable: scripts\n\
         may key on them. This file is generated from `src/diagnostic_codes.rs`\n\
         (`cargo test` fails when it is out of date).\n\n\
         | code | meaning | fix |\n|---|---|---|\n",
    );
    let mut codes = Code::ALL.to_vec();
    codes.sort_by_key(|c| c.as_str());
    for c in codes {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.explanation().replace('|', "\\|"),
            c.fix().replace('|', "\\|")
        ));
    }
    out
}
