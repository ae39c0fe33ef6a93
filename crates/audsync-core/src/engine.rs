//! `Engine`: one row from raw cells to a `Member` or a `Rejection` (normalize, consent,
//! eligibility, hash), with precomputed digests for low-cardinality values; and `Scratch`, the
//! per-thread buffers and bounded memo caches it reuses.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::eligibility::{EligibilityRule, RejectReason};
use crate::field::Field;
use crate::hash::{DIGEST_LEN, HEX_DIGEST_LEN, hex_lower, parse_prehashed_cell, sha256};
use crate::key::{KeySet, MatchKey, N_KEYS};
use crate::member::{AbsentReasons, KeyValue, Member, NormalizedOutcome, Rejection, RowOutcome};
use crate::memo::{Extra, InitialDigests, Lookup, Memo, Remembered};
use crate::normalize::country::{CountryCode, country, n_countries};
use crate::normalize::date::{
    BirthDate, MIN_BIRTH_YEAR, birth_day, birth_month, birth_year, date_of_birth, write_parts,
};
use crate::normalize::gender::{Gender, gender};
use crate::normalize::location::{STATES, city, state, zip};
use crate::normalize::misc::{consent, extern_id, lookalike_value, madid};
use crate::normalize::name::{first_initial, initial, name};
use crate::normalize::{AbsentReason, email::email, phone};
use crate::options::{DateOrder, NormalizeOptions};

type Digest = [u8; DIGEST_LEN];

/// Source of [`Engine`] ids, so a [`Scratch`] used with another engine drops its memos.
static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Normalizes, checks and hashes rows. Built once per run (it precomputes the digests of every
/// gender, birth year, month and day, country, US/Canadian state code and ASCII initial) and
/// shared by worker threads: it is `Send + Sync`, and each thread brings its own [`Scratch`].
pub struct Engine {
    options: NormalizeOptions,
    rule: EligibilityRule,
    id: u64,
    digests: Precomputed,
}

struct Precomputed {
    gender: [Digest; 2],
    /// Index: year − 1900.
    birth_year: Vec<Digest>,
    /// Index: month − 1.
    birth_month: [Digest; 12],
    /// Index: day − 1.
    birth_day: [Digest; 31],
    /// Index: country table index.
    country: Vec<Digest>,
    /// Index: two lowercase letters as `(a − 'a') · 26 + (b − 'a')`; US/CA state codes only.
    state_code: Vec<Option<Digest>>,
    /// Index: letter − 'a'.
    ascii_initial: [Digest; 26],
    /// The hex of all of the above.
    hex: KnownHex,
}

/// Slots of [`KnownHex`] (a power of two, several times the ~520 precomputed digests, so a
/// lookup probes about one slot).
const KNOWN_HEX_SLOTS: usize = 4096;

/// The lowercase hex of the precomputed digests, found by digest: about half the hashed cells
/// of a row (GEN, DOBY/DOBM/DOBD, COUNTRY, ST, FI) are written by copying it instead of
/// encoding.
struct KnownHex {
    /// Open addressing on the digest's first bytes: index + 1 into `entries`, 0 when empty.
    slots: Vec<u16>,
    entries: Vec<(Digest, [u8; HEX_DIGEST_LEN])>,
}

impl KnownHex {
    fn new<'a>(digests: impl IntoIterator<Item = &'a Digest>) -> KnownHex {
        let mut known = KnownHex {
            slots: vec![0; KNOWN_HEX_SLOTS],
            entries: Vec::new(),
        };
        for digest in digests {
            if known.find(digest).is_some() || known.entries.len() >= KNOWN_HEX_SLOTS / 2 {
                continue;
            }
            known.entries.push((*digest, hex_lower(digest)));
            let mut slot = KnownHex::first_slot(digest);
            while known.slots[slot] != 0 {
                slot = (slot + 1) % KNOWN_HEX_SLOTS;
            }
            // At most KNOWN_HEX_SLOTS / 2 entries.
            known.slots[slot] = known.entries.len() as u16;
        }
        known
    }

    fn first_slot(digest: &Digest) -> usize {
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // Masked below KNOWN_HEX_SLOTS.
        (u64::from_le_bytes(first) as usize) & (KNOWN_HEX_SLOTS - 1)
    }

    /// The hex of `digest`, if it is a precomputed one.
    fn find(&self, digest: &Digest) -> Option<&[u8; HEX_DIGEST_LEN]> {
        let mut slot = KnownHex::first_slot(digest);
        loop {
            let entry = usize::from(*self.slots.get(slot)?).checked_sub(1)?;
            let (known, hex) = self.entries.get(entry)?;
            if known == digest {
                return Some(hex);
            }
            slot = (slot + 1) % KNOWN_HEX_SLOTS;
        }
    }
}

fn two_letter_index(text: &str) -> Option<usize> {
    match text.as_bytes() {
        [first, second] if first.is_ascii_lowercase() && second.is_ascii_lowercase() => {
            Some(usize::from(first - b'a') * 26 + usize::from(second - b'a'))
        }
        _ => None,
    }
}

fn number_text(value: usize, width: usize) -> String {
    format!("{value:0width$}")
}

impl Precomputed {
    fn new(current_year: u16) -> Precomputed {
        let n_years = usize::from(current_year.saturating_sub(MIN_BIRTH_YEAR)) + 1;
        let mut state_code = vec![None; 26 * 26];
        for (code, _) in STATES {
            if let Some(index) = two_letter_index(code) {
                state_code[index] = Some(sha256(code));
            }
        }
        let mut digests = Precomputed {
            gender: [
                sha256(Gender::Male.as_str()),
                sha256(Gender::Female.as_str()),
            ],
            birth_year: (0..n_years)
                .map(|offset| sha256(&number_text(usize::from(MIN_BIRTH_YEAR) + offset, 4)))
                .collect(),
            birth_month: std::array::from_fn(|index| sha256(&number_text(index + 1, 2))),
            birth_day: std::array::from_fn(|index| sha256(&number_text(index + 1, 2))),
            country: (0..n_countries())
                .map(|index| {
                    CountryCode::from_index(index)
                        .map_or([0; DIGEST_LEN], |code| sha256(code.as_str()))
                })
                .collect(),
            state_code,
            ascii_initial: std::array::from_fn(|index| {
                // The index is below 26.
                let letter = char::from(b'a' + index as u8);
                sha256(letter.encode_utf8(&mut [0u8; 4]))
            }),
            hex: KnownHex::new(&[]),
        };
        digests.hex = KnownHex::new(
            digests
                .gender
                .iter()
                .chain(&digests.birth_year)
                .chain(&digests.birth_month)
                .chain(&digests.birth_day)
                .chain(&digests.country)
                .chain(digests.state_code.iter().flatten())
                .chain(&digests.ascii_initial),
        );
        digests
    }
}

/// Per-thread reusable buffers and memo caches. Create one per worker thread with
/// [`Scratch::new`] and pass it to every [`Engine::process`] call; it holds normalized values
/// of the last row and of frequent values, so its `Debug` shows none of them.
pub struct Scratch {
    engine_id: u64,
    slots: [Slot; N_KEYS],
    date_parts: [String; 3],
    memos: [Memo; N_MEMO_KINDS],
    initials: InitialDigests,
    /// The first initial of the row's FN (for FI), when FN is present.
    first_name_initial: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    NotProvided,
    Absent(AbsentReason),
    Present,
}

struct Slot {
    state: SlotState,
    text: String,
    digest: Option<Digest>,
    prehashed: bool,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: SlotState::NotProvided,
            text: String::new(),
            digest: None,
            prehashed: false,
        }
    }

    /// Records that a provided value is absent; an unreadable value outranks a blank one.
    fn mark_absent(&mut self, reason: AbsentReason) {
        self.state = match self.state {
            SlotState::Present => SlotState::Present,
            SlotState::Absent(AbsentReason::Invalid(previous)) => {
                SlotState::Absent(AbsentReason::Invalid(previous))
            }
            SlotState::NotProvided | SlotState::Absent(AbsentReason::Empty) => {
                SlotState::Absent(reason)
            }
        };
    }
}

/// The kinds of key the scratch memoizes (by raw cell), each with its own [`Memo`]: the
/// low-cardinality ones whose normalizers cost more than a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemoKind {
    /// FN and LN (same normalizer, same digest); the memo keeps the first initial.
    Name = 0,
    City,
    State,
    Zip,
    /// The memo keeps the gender (0 male, 1 female).
    Gender,
    /// The memo keeps the country table index.
    Country,
}

const N_MEMO_KINDS: usize = 6;

impl MemoKind {
    /// The memo of `key`, if it has one.
    fn of(key: MatchKey) -> Option<MemoKind> {
        match key {
            MatchKey::Fn | MatchKey::Ln => Some(MemoKind::Name),
            MatchKey::Ct => Some(MemoKind::City),
            MatchKey::St => Some(MemoKind::State),
            MatchKey::Zip => Some(MemoKind::Zip),
            MatchKey::Gen => Some(MemoKind::Gender),
            MatchKey::Country => Some(MemoKind::Country),
            _ => None,
        }
    }
}

impl Scratch {
    /// Empty buffers; memo caches fill on first use.
    pub fn new() -> Scratch {
        Scratch {
            engine_id: 0,
            slots: std::array::from_fn(|_| Slot::new()),
            date_parts: Default::default(),
            memos: Default::default(),
            initials: InitialDigests::default(),
            first_name_initial: String::new(),
        }
    }

    fn reset(&mut self, engine_id: u64) {
        if self.engine_id != engine_id {
            self.engine_id = engine_id;
            for memo in &mut self.memos {
                memo.clear();
            }
            self.initials.clear();
        }
        self.first_name_initial.clear();
        for slot in &mut self.slots {
            slot.state = SlotState::NotProvided;
            slot.text.clear();
            slot.digest = None;
            slot.prehashed = false;
        }
    }
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n_memoized: usize = self.memos.iter().map(Memo::n_remembered).sum();
        formatter
            .debug_struct("Scratch")
            .field("n_memoized", &n_memoized)
            .finish_non_exhaustive()
    }
}

/// The member the last row became, read in place from the [`Scratch`] that holds it (see
/// [`Engine::process_view`]). Like [`Member`], its `Debug` shows no values.
pub struct MemberView<'view> {
    slots: &'view [Slot; N_KEYS],
    /// Keys sent as SHA-256 digests.
    hashed: KeySet,
    known_hex: &'view KnownHex,
}

impl MemberView<'_> {
    /// Whether `key` has a value to send.
    pub fn is_present(&self, key: MatchKey) -> bool {
        self.slots[key.index()].state == SlotState::Present
    }

    /// Whether `key` is sent as a digest (64 lowercase hex when present): such a cell never
    /// needs CSV quoting.
    pub fn is_hashed(&self, key: MatchKey) -> bool {
        self.hashed.contains(key)
    }

    /// Appends the wire form of `key`, as [`KeyValue::write_wire`] of the built member would:
    /// 64 lowercase hex for a digest, the text for a plain value, nothing for an absent one.
    pub fn write_wire(&self, key: MatchKey, out: &mut String) {
        let slot = &self.slots[key.index()];
        if slot.state != SlotState::Present {
            return;
        }
        if self.hashed.contains(key) {
            let digest = slot.digest.unwrap_or_else(|| sha256(&slot.text));
            let mut buffer = [0u8; HEX_DIGEST_LEN];
            out.push_str(crate::hash::hex_str(&digest, &mut buffer));
        } else {
            out.push_str(&slot.text);
        }
    }

    /// [`MemberView::write_wire`] into bytes: the 64 hex digits of a digest are one
    /// fixed-size copy (the CSV writer's hot path).
    pub fn write_wire_bytes(&self, key: MatchKey, out: &mut Vec<u8>) {
        let slot = &self.slots[key.index()];
        if slot.state != SlotState::Present {
            return;
        }
        if self.hashed.contains(key) {
            let digest = slot.digest.unwrap_or_else(|| sha256(&slot.text));
            match self.known_hex.find(&digest) {
                Some(hex) => out.extend_from_slice(hex),
                None => out.extend_from_slice(&hex_lower(&digest)),
            }
        } else {
            out.extend_from_slice(slot.text.as_bytes());
        }
    }

    /// The value of `key` as [`Member::get`] gives it.
    pub fn value(&self, key: MatchKey) -> KeyValue {
        let slot = &self.slots[key.index()];
        if slot.state != SlotState::Present {
            KeyValue::Absent
        } else if self.hashed.contains(key) {
            KeyValue::Hashed(slot.digest.unwrap_or_else(|| sha256(&slot.text)))
        } else {
            KeyValue::Plain(slot.text.as_str().into())
        }
    }

    /// Keys that were provided but normalized to absent, with the reason, in schema order.
    pub fn absent(&self) -> impl Iterator<Item = (MatchKey, AbsentReason)> + '_ {
        MatchKey::ALL
            .into_iter()
            .zip(self.slots.iter())
            .filter_map(|(key, slot)| match slot.state {
                SlotState::Absent(reason) => Some((key, reason)),
                SlotState::NotProvided | SlotState::Present => None,
            })
    }

    /// The member as an owned [`Member`].
    pub fn to_member(&self) -> Member {
        let mut absent = AbsentReasons::default();
        for (key, reason) in self.absent() {
            absent.set(key, Some(reason));
        }
        Member {
            values: std::array::from_fn(|index| self.value(MatchKey::ALL[index])),
            absent,
        }
    }
}

impl fmt::Debug for MemberView<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_member(), formatter)
    }
}

/// What the engine knows about the row while filling slots.
struct RowContext {
    /// The row's COUNTRY, else the default country.
    region: Option<CountryCode>,
    date_order: DateOrder,
    want_digests: bool,
}

impl Engine {
    /// Builds an engine: precomputes digests and loads phone metadata.
    pub fn new(options: NormalizeOptions, rule: EligibilityRule) -> Engine {
        phone::warm_up();
        let digests = Precomputed::new(options.current_year);
        Engine {
            options,
            rule,
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            digests,
        }
    }

    /// The options this engine normalizes with.
    pub fn options(&self) -> &NormalizeOptions {
        &self.options
    }

    /// The eligibility rule this engine applies.
    pub fn rule(&self) -> &EligibilityRule {
        &self.rule
    }

    /// Full path: normalize, check consent and eligibility, hash. `fields[i]` describes
    /// `values[i]` (extra values or fields beyond the shorter of the two are ignored). When
    /// several columns feed one key, the first usable value wins.
    pub fn process(&self, fields: &[Field], values: &[&str], scratch: &mut Scratch) -> RowOutcome {
        match self.process_view(fields, values, scratch) {
            Ok(member) => RowOutcome::Member(member.to_member()),
            Err(rejection) => RowOutcome::Rejected(rejection),
        }
    }

    /// [`Engine::process`] without building a [`Member`]: the member stays in `scratch`, and
    /// the returned [`MemberView`] reads it in place (wire text straight into the caller's
    /// buffer, absent reasons) until the scratch is used again. Same answers as `process`, for
    /// callers that write each row out at once (`audsync hash`): no 1 KiB member is built and
    /// moved, and no plain value is copied into its own allocation.
    // The rejection (with its ~400-byte absent reasons) is only built for rejected rows; the
    // member path writes a discriminant and a 16-byte view.
    #[allow(clippy::result_large_err)]
    pub fn process_view<'view>(
        &'view self,
        fields: &[Field],
        values: &[&str],
        scratch: &'view mut Scratch,
    ) -> Result<MemberView<'view>, Rejection> {
        if let Some(reason) = self.fill(fields, values, scratch, true) {
            return Err(Rejection {
                reason,
                absent: absent_reasons(scratch),
            });
        }
        let mut hashed = KeySet::EMPTY;
        for key in MatchKey::ALL {
            if key.is_hashed() || (key == MatchKey::ExternId && self.options.hash_extern_id) {
                hashed.insert(key);
            }
        }
        Ok(MemberView {
            slots: &scratch.slots,
            hashed,
            known_hex: &self.digests.hex,
        })
    }

    /// Normalize only (for `--emit normalized`): the pre-hash canonical strings, the absent
    /// reasons and the rejection, if any.
    pub fn normalize(
        &self,
        fields: &[Field],
        values: &[&str],
        scratch: &mut Scratch,
    ) -> NormalizedOutcome {
        let rejection = self.fill(fields, values, scratch, false);
        let absent = absent_reasons(scratch);
        NormalizedOutcome {
            values: std::array::from_fn(|index| {
                let slot = &scratch.slots[index];
                (slot.state == SlotState::Present).then(|| slot.text.clone())
            }),
            rejection: rejection.map(|reason| Rejection { reason, absent }),
            absent,
        }
    }

    /// Fills the scratch slots from one row; returns why the row is rejected, if it is.
    fn fill(
        &self,
        fields: &[Field],
        values: &[&str],
        scratch: &mut Scratch,
        want_digests: bool,
    ) -> Option<RejectReason> {
        scratch.reset(self.id);
        // Pass 1: the user's country (needed by PHONE, ST, ZIP and dates) and consent.
        let mut row_country = None;
        let mut consent_seen = false;
        let mut consent_given = true;
        for (field, value) in fields.iter().zip(values) {
            match field {
                Field::Key(MatchKey::Country) => {
                    let slot = &mut scratch.slots[MatchKey::Country.index()];
                    if slot.state == SlotState::Present {
                        continue;
                    }
                    let memo = &mut scratch.memos[MemoKind::Country as usize];
                    match self.country_slot(value, slot, memo, want_digests) {
                        Ok(code) => row_country = row_country.or(code),
                        Err(reason) => slot.mark_absent(reason),
                    }
                }
                Field::Consent => {
                    consent_seen = true;
                    consent_given &= consent(value);
                }
                _ => {}
            }
        }
        let region = row_country.or(self.options.default_country);
        let context = RowContext {
            region,
            date_order: self
                .options
                .date_order
                .unwrap_or(DateOrder::for_country(region)),
            want_digests,
        };
        // Pass 2: everything else.
        for (field, value) in fields.iter().zip(values) {
            match field {
                Field::Key(MatchKey::Country) | Field::Consent => {}
                Field::Key(key) => self.fill_key(*key, value, &context, scratch),
                Field::DateOfBirth => self.fill_date_of_birth(value, &context, scratch),
            }
        }
        self.derive_first_initial(scratch, want_digests);
        // Bit `i` of each mask is slot `i` (`MatchKey::ALL` order).
        let mut present_bits = 0u16;
        let mut invalid_bits = 0u16;
        for (index, slot) in scratch.slots.iter().enumerate() {
            match slot.state {
                SlotState::Present => present_bits |= 1 << index,
                SlotState::Absent(AbsentReason::Invalid(_)) => invalid_bits |= 1 << index,
                SlotState::Absent(AbsentReason::Empty) | SlotState::NotProvided => {}
            }
        }
        let present = KeySet::from_bits(present_bits);
        if consent_seen && !consent_given {
            return Some(RejectReason::NoConsent);
        }
        if self.rule.is_satisfied_by(present) {
            return None;
        }
        Some(RejectReason::NotEnough {
            present: self.described(present),
            invalid: KeySet::from_bits(invalid_bits),
        })
    }

    /// The present keys worth naming in a rejection: without EXTERN_ID and LOOKALIKE_VALUE
    /// unless the rule uses them, and without FI when FN is there (FI is derived from it).
    fn described(&self, mut present: KeySet) -> KeySet {
        let referenced = self.rule.referenced_keys();
        for key in [MatchKey::ExternId, MatchKey::LookalikeValue] {
            if !referenced.contains(key) {
                present.remove(key);
            }
        }
        if present.contains(MatchKey::Fn) && !referenced.contains(MatchKey::Fi) {
            present.remove(MatchKey::Fi);
        }
        present
    }

    fn country_slot(
        &self,
        value: &str,
        slot: &mut Slot,
        memo: &mut Memo,
        want_digests: bool,
    ) -> Result<Option<CountryCode>, AbsentReason> {
        if let Some(digest) = parse_prehashed_cell(value) {
            set_prehashed(slot, digest);
            return Ok(None);
        }
        let lookup = if want_digests {
            memo.lookup(value, 0)
        } else {
            Lookup::Off
        };
        let code = match lookup {
            Lookup::Hit(Remembered::Absent(reason)) => return Err(reason),
            Lookup::Hit(Remembered::Present { extra, .. }) => extra
                .as_bytes()
                .first()
                .and_then(|index| CountryCode::from_index(usize::from(*index))),
            Lookup::Miss | Lookup::Off => None,
        };
        let code = match code {
            Some(code) => code,
            None => match country(value) {
                Ok(code) => {
                    if let (Lookup::Miss, Some(digest), Ok(index)) = (
                        &lookup,
                        self.digests.country.get(code.index()),
                        u8::try_from(code.index()),
                    ) {
                        let extra = Extra::new(&[index]).unwrap_or_default();
                        memo.remember(
                            value,
                            0,
                            Remembered::Present {
                                digest: *digest,
                                extra,
                            },
                        );
                    }
                    code
                }
                Err(reason) => {
                    if let Lookup::Miss = lookup {
                        memo.remember(value, 0, Remembered::Absent(reason));
                    }
                    return Err(reason);
                }
            },
        };
        slot.state = SlotState::Present;
        slot.text.clear();
        slot.text.push_str(code.as_str());
        slot.digest = self.digests.country.get(code.index()).copied();
        Ok(Some(code))
    }

    fn fill_key(&self, key: MatchKey, value: &str, context: &RowContext, scratch: &mut Scratch) {
        let Scratch {
            slots,
            memos,
            initials,
            first_name_initial,
            ..
        } = scratch;
        let slot = &mut slots[key.index()];
        if slot.state == SlotState::Present {
            return;
        }
        let hashed = key.is_hashed() || (key == MatchKey::ExternId && self.options.hash_extern_id);
        if hashed && let Some(digest) = parse_prehashed_cell(value) {
            set_prehashed(slot, digest);
            return;
        }
        let memo_kind = MemoKind::of(key).filter(|_| context.want_digests);
        let normalized = match memo_kind {
            Some(kind) => self.memoized(kind, value, context, &mut memos[kind as usize], slot),
            None => self
                .normalize_key(key, value, context, initials, &mut slot.text)
                .map(|digest| (digest, None)),
        };
        match normalized {
            Ok((digest, extra)) => {
                slot.state = SlotState::Present;
                slot.digest = match digest {
                    Some(digest) => Some(digest),
                    None if hashed && context.want_digests => Some(sha256(&slot.text)),
                    None => None,
                };
                if key == MatchKey::Fn {
                    // The memo keeps the initial; a normalized text gives it.
                    match extra
                        .as_ref()
                        .and_then(|extra| std::str::from_utf8(extra.as_bytes()).ok())
                    {
                        Some(initial) => first_name_initial.push_str(initial),
                        None => {
                            let _ = first_initial(&slot.text, first_name_initial);
                        }
                    }
                }
            }
            Err(reason) => slot.mark_absent(reason),
        }
    }

    /// Normalizes one key into `text`; returns the digest when a table knows it.
    fn normalize_key(
        &self,
        key: MatchKey,
        value: &str,
        context: &RowContext,
        initials: &mut InitialDigests,
        text: &mut String,
    ) -> Result<Option<Digest>, AbsentReason> {
        let script = self.options.names;
        match key {
            MatchKey::Email => email(value, text).map(|()| None),
            MatchKey::Phone => phone::phone(value, context.region, text).map(|()| None),
            MatchKey::Gen => {
                let gender = gender(value)?;
                text.clear();
                text.push_str(gender.as_str());
                Ok(Some(
                    self.digests.gender[usize::from(gender == Gender::Female)],
                ))
            }
            MatchKey::Doby => {
                birth_year(value, self.options.current_year, text)?;
                Ok(self.year_digest(text))
            }
            MatchKey::Dobm => {
                birth_month(value, text)?;
                Ok(number_digest(text, &self.digests.birth_month))
            }
            MatchKey::Dobd => {
                birth_day(value, text)?;
                Ok(number_digest(text, &self.digests.birth_day))
            }
            MatchKey::Ln | MatchKey::Fn => name(value, script, text).map(|()| None),
            MatchKey::Fi => {
                initial(value, script, text)?;
                Ok(context
                    .want_digests
                    .then(|| self.initial_digest(text, initials)))
            }
            MatchKey::Ct => city(value, text).map(|()| None),
            MatchKey::St => state(value, context.region, text)
                .map(|()| two_letter_index(text).and_then(|index| self.digests.state_code[index])),
            MatchKey::Zip => zip(value, context.region, text).map(|()| None),
            MatchKey::Country => {
                let code = country(value)?;
                text.clear();
                text.push_str(code.as_str());
                Ok(self.digests.country.get(code.index()).copied())
            }
            MatchKey::Madid => madid(value, text).map(|()| None),
            MatchKey::ExternId => extern_id(value, text).map(|()| None),
            MatchKey::LookalikeValue => lookalike_value(value, text).map(|()| None),
        }
    }

    /// The digest of a memoized key (and what its memo keeps beside it): from the memo, or
    /// normalized into `slot.text` and remembered. A memo hit leaves `slot.text` empty: the
    /// digest is what is sent.
    fn memoized(
        &self,
        kind: MemoKind,
        value: &str,
        context: &RowContext,
        memo: &mut Memo,
        slot: &mut Slot,
    ) -> Result<(Option<Digest>, Option<Extra>), AbsentReason> {
        let memo_context = match kind {
            // ST and ZIP read differently per country.
            MemoKind::State | MemoKind::Zip => {
                context.region.map_or(0, |code| code.index() as u16 + 1)
            }
            MemoKind::Name | MemoKind::City | MemoKind::Gender | MemoKind::Country => 0,
        };
        let lookup = memo.lookup(value, memo_context);
        match lookup {
            Lookup::Hit(Remembered::Present { digest, extra }) => {
                slot.text.clear();
                return Ok((Some(digest), Some(extra)));
            }
            Lookup::Hit(Remembered::Absent(reason)) => return Err(reason),
            Lookup::Miss | Lookup::Off => {}
        }
        let text = &mut slot.text;
        let normalized = match kind {
            MemoKind::Name => name(value, self.options.names, text),
            MemoKind::City => city(value, text),
            MemoKind::State => state(value, context.region, text),
            MemoKind::Zip => zip(value, context.region, text),
            MemoKind::Gender => gender(value).map(|gender| {
                text.clear();
                text.push_str(gender.as_str());
            }),
            MemoKind::Country => country(value).map(|code| {
                text.clear();
                text.push_str(code.as_str());
            }),
        };
        if let Err(reason) = normalized {
            if let Lookup::Miss = lookup {
                memo.remember(value, memo_context, Remembered::Absent(reason));
            }
            return Err(reason);
        }
        let digest = match kind {
            MemoKind::State => two_letter_index(text)
                .and_then(|index| self.digests.state_code[index])
                .unwrap_or_else(|| sha256(text)),
            MemoKind::Gender => self.digests.gender[usize::from(text == Gender::Female.as_str())],
            MemoKind::Country => CountryCode::parse(text)
                .and_then(|code| self.digests.country.get(code.index()).copied())
                .unwrap_or_else(|| sha256(text)),
            MemoKind::Name | MemoKind::City | MemoKind::Zip => sha256(text),
        };
        let extra = match kind {
            MemoKind::Name => {
                let mut initial = String::new();
                first_initial(text, &mut initial)
                    .ok()
                    .and_then(|()| Extra::new(initial.as_bytes()))
            }
            MemoKind::Gender => Extra::new(&[u8::from(text == Gender::Female.as_str())]),
            MemoKind::City | MemoKind::State | MemoKind::Zip | MemoKind::Country => {
                Some(Extra::default())
            }
        };
        // A name whose initial does not fit is normalized every time.
        if let (Lookup::Miss, Some(extra)) = (&lookup, extra) {
            memo.remember(value, memo_context, Remembered::Present { digest, extra });
        }
        Ok((Some(digest), extra))
    }

    fn year_digest(&self, text: &str) -> Option<Digest> {
        let year: usize = text.parse().ok()?;
        let offset = year.checked_sub(usize::from(MIN_BIRTH_YEAR))?;
        self.digests.birth_year.get(offset).copied()
    }

    /// The digest of a first initial: precomputed for a–z, else from the initials memo.
    fn initial_digest(&self, text: &str, initials: &mut InitialDigests) -> Digest {
        match text.as_bytes() {
            [letter] if letter.is_ascii_lowercase() => {
                self.digests.ascii_initial[usize::from(letter - b'a')]
            }
            _ => initials.digest(text),
        }
    }

    fn fill_date_of_birth(&self, value: &str, context: &RowContext, scratch: &mut Scratch) {
        let keys = [MatchKey::Doby, MatchKey::Dobm, MatchKey::Dobd];
        if keys
            .iter()
            .all(|key| scratch.slots[key.index()].state == SlotState::Present)
        {
            return;
        }
        match date_of_birth(value, context.date_order, self.options.current_year) {
            Ok(date) => self.set_date(&date, scratch),
            Err(reason) => {
                for key in keys {
                    scratch.slots[key.index()].mark_absent(reason);
                }
            }
        }
    }

    fn set_date(&self, date: &BirthDate, scratch: &mut Scratch) {
        let Scratch {
            slots, date_parts, ..
        } = scratch;
        let [year, month, day] = date_parts;
        write_parts(date, year, month, day);
        let parts = [
            (MatchKey::Doby, &*year, self.year_digest(year)),
            (
                MatchKey::Dobm,
                &*month,
                number_digest(month, &self.digests.birth_month),
            ),
            (
                MatchKey::Dobd,
                &*day,
                number_digest(day, &self.digests.birth_day),
            ),
        ];
        for (key, text, digest) in parts {
            let slot = &mut slots[key.index()];
            if slot.state == SlotState::Present || text.is_empty() {
                continue;
            }
            slot.state = SlotState::Present;
            slot.text.clear();
            slot.text.push_str(text);
            slot.digest = Some(digest.unwrap_or_else(|| sha256(text)));
        }
    }

    /// FI from FN when FI has no value of its own (and FN was not given pre-hashed).
    fn derive_first_initial(&self, scratch: &mut Scratch, want_digests: bool) {
        let Scratch {
            slots,
            initials,
            first_name_initial,
            ..
        } = scratch;
        let first_name = &slots[MatchKey::Fn.index()];
        if slots[MatchKey::Fi.index()].state == SlotState::Present
            || first_name.state != SlotState::Present
            || first_name.prehashed
            || first_name_initial.is_empty()
        {
            return;
        }
        let first_initial_slot = &mut slots[MatchKey::Fi.index()];
        first_initial_slot.state = SlotState::Present;
        first_initial_slot.text.clear();
        first_initial_slot.text.push_str(first_name_initial);
        first_initial_slot.digest =
            want_digests.then(|| self.initial_digest(first_name_initial, initials));
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Engine")
            .field("options", &self.options)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

fn set_prehashed(slot: &mut Slot, digest: Digest) {
    slot.state = SlotState::Present;
    slot.text.clear();
    let mut buffer = [0u8; HEX_DIGEST_LEN];
    slot.text
        .push_str(crate::hash::hex_str(&digest, &mut buffer));
    slot.digest = Some(digest);
    slot.prehashed = true;
}

fn number_digest<const N: usize>(text: &str, table: &[Digest; N]) -> Option<Digest> {
    let number: usize = text.parse().ok()?;
    table.get(number.checked_sub(1)?).copied()
}

fn absent_reasons(scratch: &Scratch) -> AbsentReasons {
    let mut reasons = AbsentReasons::default();
    for key in MatchKey::ALL {
        if let SlotState::Absent(reason) = scratch.slots[key.index()].state {
            reasons.set(key, Some(reason));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;
    use crate::options::NameScript;

    const YEAR: u16 = 2026;

    fn key(key: MatchKey) -> Field {
        Field::Key(key)
    }

    fn engine_with(change: impl FnOnce(&mut NormalizeOptions)) -> Engine {
        let mut options = NormalizeOptions::new(YEAR);
        change(&mut options);
        Engine::new(options, EligibilityRule::default())
    }

    fn member(outcome: RowOutcome) -> Member {
        match outcome {
            RowOutcome::Member(member) => member,
            RowOutcome::Rejected(rejection) => panic!("rejected: {}", rejection.reason),
        }
    }

    fn rejection(outcome: RowOutcome) -> Rejection {
        match outcome {
            RowOutcome::Member(member) => panic!("member: {member:?}"),
            RowOutcome::Rejected(rejection) => rejection,
        }
    }

    fn wire(member: &Member, key: MatchKey) -> String {
        let mut out = String::new();
        member.write_wire(key, &mut out);
        out
    }

    /// Why `match_key` is absent from a row holding only `value` in that key's column (such a
    /// row is rejected: one key alone is not enough).
    fn absent_reason_of_a_lone_value(
        engine: &Engine,
        match_key: MatchKey,
        value: &str,
    ) -> Option<AbsentReason> {
        let outcome = engine.process(&[key(match_key)], &[value], &mut Scratch::new());
        rejection(outcome).absent.get(match_key)
    }

    const MESSY_FIELDS: [Field; 11] = [
        Field::Key(MatchKey::ExternId),
        Field::Key(MatchKey::Email),
        Field::Key(MatchKey::Phone),
        Field::Key(MatchKey::Fn),
        Field::Key(MatchKey::Ln),
        Field::Key(MatchKey::Ct),
        Field::Key(MatchKey::St),
        Field::Key(MatchKey::Zip),
        Field::Key(MatchKey::Country),
        Field::DateOfBirth,
        Field::Key(MatchKey::Gen),
    ];

    const MESSY_ROW: [&str; 11] = [
        "  CRM-ID-42 ",
        "  John.Doe@Example.COM ",
        "(650) 555-1234",
        "  José ",
        "O'Brien-Smith",
        "Menlo Park",
        "California",
        "94025-1234",
        "United States",
        "8/2/1956",
        "Female",
    ];

    #[test]
    fn a_messy_row_becomes_the_documented_keys() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let member = member(engine.process(&MESSY_FIELDS, &MESSY_ROW, &mut scratch));
        let expected: &[(MatchKey, &str)] = &[
            (MatchKey::Email, "john.doe@example.com"),
            (MatchKey::Phone, "16505551234"),
            (MatchKey::Fn, "josé"),
            (MatchKey::Ln, "obriensmith"),
            (MatchKey::Fi, "j"),
            (MatchKey::Ct, "menlopark"),
            (MatchKey::St, "ca"),
            (MatchKey::Zip, "94025"),
            (MatchKey::Country, "us"),
            (MatchKey::Doby, "1956"),
            (MatchKey::Dobm, "08"),
            (MatchKey::Dobd, "02"),
            (MatchKey::Gen, "f"),
        ];
        for (match_key, normalized) in expected {
            assert_eq!(
                wire(&member, *match_key),
                sha256_hex(normalized),
                "{match_key}"
            );
        }
        assert_eq!(wire(&member, MatchKey::ExternId), "CRM-ID-42");
        assert_eq!(wire(&member, MatchKey::Madid), "");
        assert_eq!(wire(&member, MatchKey::LookalikeValue), "");
        assert_eq!(member.absent().count(), 0);

        let normalized = engine.normalize(&MESSY_FIELDS, &MESSY_ROW, &mut scratch);
        assert!(normalized.is_member());
        for (match_key, expected) in expected {
            assert_eq!(normalized.get(*match_key), Some(*expected), "{match_key}");
        }
        assert_eq!(normalized.get(MatchKey::ExternId), Some("CRM-ID-42"));
        let debug = format!("{normalized:?}");
        assert!(
            !debug.contains("john") && !debug.contains("josé"),
            "{debug}"
        );
    }

    #[test]
    fn process_and_normalize_agree_and_memos_give_the_same_answer_twice() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let first = member(engine.process(&MESSY_FIELDS, &MESSY_ROW, &mut scratch));
        let normalized = engine.normalize(&MESSY_FIELDS, &MESSY_ROW, &mut scratch);
        let second = member(engine.process(&MESSY_FIELDS, &MESSY_ROW, &mut scratch));
        assert_eq!(first, second);
        assert_eq!(first.fingerprint(), second.fingerprint());
        for match_key in MatchKey::ALL {
            let expected = match normalized.get(match_key) {
                None => String::new(),
                Some(text) if match_key.is_hashed() => sha256_hex(text),
                Some(text) => text.to_owned(),
            };
            assert_eq!(wire(&first, match_key), expected, "{match_key}");
        }
    }

    #[test]
    fn the_view_writes_what_the_member_writes() {
        let rows: [(&[Field], &[&str]); 4] = [
            (&MESSY_FIELDS, &MESSY_ROW),
            (
                &[
                    key(MatchKey::Email),
                    key(MatchKey::Gen),
                    key(MatchKey::Phone),
                ],
                &["a@b.co", "Other", "n/a"],
            ),
            (
                &[
                    key(MatchKey::ExternId),
                    key(MatchKey::Madid),
                    key(MatchKey::Email),
                ],
                &[
                    " id,\"1\" ",
                    "AECE52E7-03EE-455A-B3C4-E57283966239",
                    "a@b.co",
                ],
            ),
            (&[key(MatchKey::Zip)], &["94025"]),
        ];
        for hash_extern_id in [false, true] {
            let engine = engine_with(|options| options.hash_extern_id = hash_extern_id);
            let mut scratch = Scratch::new();
            for (fields, row) in rows {
                let outcome = engine.process(fields, row, &mut scratch);
                match (outcome, engine.process_view(fields, row, &mut scratch)) {
                    (RowOutcome::Member(member), Ok(view)) => {
                        for match_key in MatchKey::ALL {
                            let mut written = String::from("x");
                            view.write_wire(match_key, &mut written);
                            assert_eq!(written[1..], wire(&member, match_key), "{match_key}");
                            let mut bytes = b"x".to_vec();
                            view.write_wire_bytes(match_key, &mut bytes);
                            assert_eq!(bytes[1..], written.as_bytes()[1..], "{match_key}");
                            assert_eq!(view.value(match_key), *member.get(match_key));
                            assert_eq!(
                                view.is_present(match_key),
                                !member.get(match_key).is_absent()
                            );
                        }
                        assert!(view.absent().eq(member.absent()));
                        assert_eq!(view.to_member(), member);
                    }
                    (RowOutcome::Rejected(rejection), Err(from_view)) => {
                        assert_eq!(rejection, from_view);
                    }
                    (outcome, view) => panic!("{outcome:?} but {view:?}"),
                }
            }
        }
    }

    #[test]
    fn a_scratch_used_with_another_engine_forgets_its_memos() {
        let unicode = engine_with(|_| {});
        let ascii = engine_with(|options| options.names = NameScript::Ascii);
        let mut scratch = Scratch::new();
        let fields = [key(MatchKey::Email), key(MatchKey::Fn)];
        let row = ["a@b.co", "José"];
        let with_unicode = member(unicode.process(&fields, &row, &mut scratch));
        let with_ascii = member(ascii.process(&fields, &row, &mut scratch));
        assert_eq!(wire(&with_unicode, MatchKey::Fn), sha256_hex("josé"));
        assert_eq!(wire(&with_ascii, MatchKey::Fn), sha256_hex("jose"));
    }

    #[test]
    fn rejection_reasons_name_what_the_user_had() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let table: &[(&[Field], &[&str], &str)] = &[
            (&[key(MatchKey::Zip)], &["94025"], "only ZIP"),
            (
                &[
                    key(MatchKey::ExternId),
                    key(MatchKey::Zip),
                    key(MatchKey::Country),
                ],
                &["42", "94025", "US"],
                "only ZIP and COUNTRY",
            ),
            (
                &[key(MatchKey::Email)],
                &["not an email"],
                "email invalid and nothing else",
            ),
            (
                &[key(MatchKey::Email), key(MatchKey::Phone)],
                &["nope", "123"],
                "email and phone invalid and nothing else",
            ),
            (
                &[key(MatchKey::Email), key(MatchKey::Phone)],
                &["", "  "],
                "no usable key",
            ),
            (&[], &[], "no usable key"),
            (
                &[key(MatchKey::Fn), key(MatchKey::Ln), key(MatchKey::Email)],
                &["Ann", "Lee", "ann at example"],
                "only LN and FN (email invalid)",
            ),
            (
                &[key(MatchKey::Email), Field::Consent],
                &["ann@example.com", "no"],
                "no consent",
            ),
            (
                &[key(MatchKey::Email), Field::Consent],
                &["ann@example.com", ""],
                "no consent",
            ),
        ];
        for (fields, row, expected) in table {
            let rejected = rejection(engine.process(fields, row, &mut scratch));
            assert_eq!(rejected.reason.to_string(), *expected, "{row:?}");
            let normalized = engine.normalize(fields, row, &mut scratch);
            assert_eq!(
                normalized
                    .rejection()
                    .map(|r| r.reason.to_string())
                    .as_deref(),
                Some(*expected)
            );
        }
        assert_eq!(
            absent_reason_of_a_lone_value(&engine, MatchKey::Email, "not an email"),
            Some(AbsentReason::Invalid("not an email address"))
        );
    }

    #[test]
    fn consent_given_keeps_the_user() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        for consent in ["yes", "TRUE", "1", "opted in"] {
            member(engine.process(
                &[key(MatchKey::Email), Field::Consent],
                &["ann@example.com", consent],
                &mut scratch,
            ));
        }
    }

    #[test]
    fn the_rows_country_sets_the_phone_region_and_date_order() {
        let engine = engine_with(|options| options.default_country = CountryCode::parse("US"));
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::Phone),
            key(MatchKey::Country),
            Field::DateOfBirth,
        ];
        let french = member(engine.process(
            &fields,
            &["06 12 34 56 78", "France", "02/08/1956"],
            &mut scratch,
        ));
        assert_eq!(wire(&french, MatchKey::Phone), sha256_hex("33612345678"));
        assert_eq!(wire(&french, MatchKey::Dobm), sha256_hex("08"));
        assert_eq!(wire(&french, MatchKey::Dobd), sha256_hex("02"));
        let american =
            member(engine.process(&fields, &["(650) 555-1234", "", "02/08/1956"], &mut scratch));
        assert_eq!(wire(&american, MatchKey::Phone), sha256_hex("16505551234"));
        assert_eq!(wire(&american, MatchKey::Dobm), sha256_hex("02"));
        assert_eq!(wire(&american, MatchKey::Dobd), sha256_hex("08"));
        assert_eq!(
            american.absent().collect::<Vec<_>>(),
            [(MatchKey::Country, AbsentReason::Empty)]
        );

        let day_first = engine_with(|options| {
            options.default_country = CountryCode::parse("US");
            options.date_order = Some(DateOrder::DayMonthYear);
        });
        let forced =
            member(day_first.process(&fields, &["(650) 555-1234", "", "02/08/1956"], &mut scratch));
        assert_eq!(wire(&forced, MatchKey::Dobm), sha256_hex("08"));

        let no_country = engine_with(|_| {});
        assert_eq!(
            absent_reason_of_a_lone_value(&no_country, MatchKey::Phone, "06 12 34 56 78"),
            Some(AbsentReason::Invalid("no country for a national number"))
        );
    }

    #[test]
    fn empty_values_are_absent_and_never_hashed() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::Email),
            key(MatchKey::Phone),
            key(MatchKey::Fn),
            key(MatchKey::Gen),
        ];
        let member =
            member(engine.process(&fields, &["a@b.co", "   ", "123", "Other"], &mut scratch));
        for match_key in [MatchKey::Phone, MatchKey::Fn, MatchKey::Gen] {
            assert!(member.get(match_key).is_absent(), "{match_key}");
            assert_eq!(wire(&member, match_key), "");
        }
        assert_eq!(
            member.absent().collect::<Vec<_>>(),
            [
                (MatchKey::Phone, AbsentReason::Empty),
                (MatchKey::Gen, AbsentReason::Invalid("unknown gender")),
                (MatchKey::Fn, AbsentReason::Invalid("no letters")),
            ]
        );
    }

    #[test]
    fn prehashed_values_pass_through_lowercased() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let hashed = "F1904CF1A9D73A55FA5DE0AC823C4403DED71AFD4C3248D00BDCD0866552BB79";
        let fields = [
            key(MatchKey::Email),
            key(MatchKey::Fn),
            key(MatchKey::Country),
        ];
        let member = member(engine.process(&fields, &[hashed, hashed, hashed], &mut scratch));
        for match_key in [MatchKey::Email, MatchKey::Fn, MatchKey::Country] {
            assert_eq!(wire(&member, match_key), hashed.to_lowercase());
        }
        assert!(
            member.get(MatchKey::Fi).is_absent(),
            "no initial from a hash"
        );
        let normalized = engine.normalize(&fields, &[hashed, "", ""], &mut scratch);
        assert_eq!(
            normalized.get(MatchKey::Email),
            Some(hashed.to_lowercase().as_str())
        );
    }

    #[test]
    fn unhashed_keys_and_extern_id_hashing() {
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::ExternId),
            key(MatchKey::Madid),
            key(MatchKey::LookalikeValue),
        ];
        let row = [
            " AbC-123 ",
            "AECE52E7-03EE-455A-B3C4-E57283966239",
            "044.50",
        ];
        let plain = member(engine_with(|_| {}).process(&fields, &row, &mut scratch));
        assert_eq!(wire(&plain, MatchKey::ExternId), "AbC-123");
        assert_eq!(
            wire(&plain, MatchKey::Madid),
            "aece52e7-03ee-455a-b3c4-e57283966239"
        );
        assert_eq!(wire(&plain, MatchKey::LookalikeValue), "44.5");
        assert!(format!("{plain:?}").contains("redacted"));
        assert!(!format!("{plain:?}").contains("aece52e7"));
        let hashed = member(
            engine_with(|options| options.hash_extern_id = true).process(
                &fields,
                &row,
                &mut scratch,
            ),
        );
        assert_eq!(wire(&hashed, MatchKey::ExternId), sha256_hex("AbC-123"));
    }

    #[test]
    fn several_columns_for_one_key_first_usable_value_wins() {
        let engine = engine_with(|options| options.default_country = CountryCode::parse("us"));
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::Phone),
            key(MatchKey::Phone),
            key(MatchKey::Phone),
        ];
        let member = member(engine.process(
            &fields,
            &["n/a", "(650) 555-1234", "(212) 555-0100"],
            &mut scratch,
        ));
        assert_eq!(wire(&member, MatchKey::Phone), sha256_hex("16505551234"));
        assert_eq!(member.absent().count(), 0);
    }

    #[test]
    fn first_initial_comes_from_its_own_column_or_from_the_first_name() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let derived = member(engine.process(
            &[key(MatchKey::Email), key(MatchKey::Fn)],
            &["a@b.co", "Éloïse"],
            &mut scratch,
        ));
        assert_eq!(wire(&derived, MatchKey::Fi), sha256_hex("é"));
        let own = member(engine.process(
            &[key(MatchKey::Email), key(MatchKey::Fn), key(MatchKey::Fi)],
            &["a@b.co", "Éloïse", "L."],
            &mut scratch,
        ));
        assert_eq!(wire(&own, MatchKey::Fi), sha256_hex("l"));
    }

    #[test]
    fn birth_date_columns_and_the_dob_pseudo_key() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let fields = [key(MatchKey::Email), Field::DateOfBirth];
        let year_only = member(engine.process(&fields, &["a@b.co", "1956"], &mut scratch));
        assert_eq!(wire(&year_only, MatchKey::Doby), sha256_hex("1956"));
        assert!(year_only.get(MatchKey::Dobm).is_absent());
        assert_eq!(year_only.absent().count(), 0);
        let invalid = member(engine.process(&fields, &["a@b.co", "30/02/1990"], &mut scratch));
        assert_eq!(
            invalid.absent().map(|(key, _)| key).collect::<Vec<_>>(),
            [MatchKey::Doby, MatchKey::Dobm, MatchKey::Dobd]
        );
        let columns = [
            key(MatchKey::Email),
            key(MatchKey::Doby),
            key(MatchKey::Dobm),
            key(MatchKey::Dobd),
        ];
        let separate =
            member(engine.process(&columns, &["a@b.co", "1990", "1", "5"], &mut scratch));
        assert_eq!(wire(&separate, MatchKey::Doby), sha256_hex("1990"));
        assert_eq!(wire(&separate, MatchKey::Dobm), sha256_hex("01"));
        assert_eq!(wire(&separate, MatchKey::Dobd), sha256_hex("05"));
        let eligible_by_name = member(engine.process(
            &[key(MatchKey::Fn), key(MatchKey::Ln), Field::DateOfBirth],
            &["Ann", "Lee", "1990-01-05"],
            &mut scratch,
        ));
        assert_eq!(wire(&eligible_by_name, MatchKey::Doby), sha256_hex("1990"));
    }

    #[test]
    fn mismatched_row_lengths_do_not_panic() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let rejected = rejection(engine.process(
            &[key(MatchKey::Email), key(MatchKey::Zip)],
            &["94025"],
            &mut scratch,
        ));
        assert_eq!(
            rejected.reason.to_string(),
            "email invalid and nothing else"
        );
        member(engine.process(&[key(MatchKey::Email)], &["a@b.co", "extra"], &mut scratch));
    }

    #[test]
    fn memo_hits_misses_collisions_and_long_values_agree_with_the_normalizers() {
        let engine = engine_with(|options| options.default_country = CountryCode::parse("us"));
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::Email),
            key(MatchKey::Fn),
            key(MatchKey::Ct),
            key(MatchKey::Zip),
        ];
        let values: Vec<(String, String, String)> = (0..3 * crate::memo::MEMO_CAPACITY)
            .map(|index| {
                let first = match index % 4 {
                    0 => format!("Ann{index}"),
                    1 => "123".to_owned(),
                    2 => format!("Bartholomew-Maximilian Alexander {index}"),
                    _ => ["Zoë", "José", "정"][index % 3].to_owned(),
                };
                (
                    first,
                    format!("Ville-{}", index % 97),
                    format!("{:05}", index * 7 % 100_000),
                )
            })
            .collect();
        // Two passes: the second one is served from the memos where they held.
        for _ in 0..2 {
            for (first, city_name, zip_code) in &values {
                let outcome = engine.process(
                    &fields,
                    &["a@b.co", first, city_name, zip_code],
                    &mut scratch,
                );
                let member = member(outcome);
                let mut expected = String::new();
                let fn_wire = match name(first, NameScript::Unicode, &mut expected) {
                    Ok(()) => sha256_hex(&expected),
                    Err(_) => String::new(),
                };
                assert_eq!(wire(&member, MatchKey::Fn), fn_wire, "{first:?}");
                city(city_name, &mut expected).unwrap();
                assert_eq!(wire(&member, MatchKey::Ct), sha256_hex(&expected));
                zip(zip_code, CountryCode::parse("us"), &mut expected).unwrap();
                assert_eq!(wire(&member, MatchKey::Zip), sha256_hex(&expected));
            }
        }
    }

    #[test]
    fn memoized_genders_countries_and_initials_agree_with_the_normalizers() {
        let engine = engine_with(|_| {});
        let mut scratch = Scratch::new();
        let fields = [
            key(MatchKey::Email),
            key(MatchKey::Fn),
            key(MatchKey::Gen),
            key(MatchKey::Country),
        ];
        let first_names = [
            "Éloïse",
            "Zoë",
            "王伟",
            "민준",
            "q\u{307}\u{323}ing",
            "John",
            "123",
        ];
        let genders = ["homme", "Female", "x", "", "женский", "M"];
        let countries = [
            "United States",
            "Deutschland",
            "Atlantis",
            "",
            "gb",
            "Россия",
        ];
        // Several rounds: the first fills the memos, the next ones are served from them.
        for round in 0..3 {
            for (index, first) in first_names.iter().enumerate() {
                let gender_cell = genders[(index + round) % genders.len()];
                let country_cell = countries[(index + 2 * round) % countries.len()];
                let row = ["a@b.co", *first, gender_cell, country_cell];
                let member = member(engine.process(&fields, &row, &mut scratch));
                let normalized = engine.normalize(&fields, &row, &mut scratch);
                for match_key in [MatchKey::Fn, MatchKey::Fi, MatchKey::Gen, MatchKey::Country] {
                    let expected = normalized
                        .get(match_key)
                        .map(sha256_hex)
                        .unwrap_or_default();
                    assert_eq!(wire(&member, match_key), expected, "{match_key} of {row:?}");
                }
                assert!(member.absent().eq(normalized.absent()), "{row:?}");
            }
        }
        assert_eq!(
            normalized_first_initial(&engine, "q\u{307}\u{323}ing"),
            Some("q\u{323}\u{307}".to_owned())
        );
    }

    fn normalized_first_initial(engine: &Engine, first_name: &str) -> Option<String> {
        let mut scratch = Scratch::new();
        let normalized = engine.normalize(
            &[key(MatchKey::Email), key(MatchKey::Fn)],
            &["a@b.co", first_name],
            &mut scratch,
        );
        normalized.get(MatchKey::Fi).map(str::to_owned)
    }

    #[test]
    fn every_precomputed_digest_has_its_hex_and_others_have_none() {
        let engine = engine_with(|_| {});
        let digests = &engine.digests;
        let all: Vec<&Digest> = digests
            .gender
            .iter()
            .chain(&digests.birth_year)
            .chain(&digests.birth_month)
            .chain(&digests.birth_day)
            .chain(&digests.country)
            .chain(digests.state_code.iter().flatten())
            .chain(&digests.ascii_initial)
            .collect();
        assert!(all.len() > 500, "{}", all.len());
        for digest in all {
            assert_eq!(digests.hex.find(digest), Some(&hex_lower(digest)));
        }
        for text in ["mary@example.com", "16505551234", "josé", "94025", ""] {
            assert_eq!(digests.hex.find(&sha256(text)), None, "{text}");
        }
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
        fn assert_send<T: Send>() {}
        assert_send::<Scratch>();
    }
}
