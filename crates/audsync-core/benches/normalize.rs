//! Criterion benches of audsync-core: each normalizer on a generated messy corpus, SHA-256 +
//! hex, and `Engine::process` on whole 11-column rows (the end-to-end cost per user).
//!
//! The corpus is generated here with a fixed-seed PRNG (no files): the same inputs every run.
//! Times are this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so figures stay comparable on
//! a shared, busy machine.

use std::hint::black_box;
use std::time::Duration;

use audsync_core::normalize::{country, date, email, gender, location, name, phone};
use audsync_core::{
    CountryCode, DateOrder, EligibilityRule, Engine, Field, MatchKey, NameScript, NormalizeOptions,
    Scratch,
};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const YEAR: u16 = 2026;

/// Criterion measurement: CPU time of the benchmarking thread.
struct ThreadCpuTime;

/// This thread's time on a CPU.
fn thread_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(time.tv_sec).unwrap_or(0),
        u32::try_from(time.tv_nsec).unwrap_or(0),
    )
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, first: &Duration, second: &Duration) -> Duration {
        *first + *second
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_ns < 1e3 {
            (1.0, "ns")
        } else if typical_ns < 1e6 {
            (1e-3, "µs")
        } else if typical_ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        values.iter_mut().for_each(|value| *value *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n as f64,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n as f64,
            Throughput::Bits(n) => n as f64,
        };
        let per_second = per_iteration * 1e9 / typical_ns;
        let (factor, unit) = if per_second >= 1e6 {
            (1e-6, "Melem/s")
        } else {
            (1e-3, "Kelem/s")
        };
        values
            .iter_mut()
            .for_each(|value| *value = per_iteration * 1e9 / *value * factor);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// Rows per bench corpus.
const N_ROWS: usize = 10_000;

/// xorshift64*: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST_NAMES: &[&str] = &[
    "John",
    "Mary",
    "José",
    "María José",
    "Jürgen",
    "Chloé",
    "Oliver",
    "Ann",
    "  Bob ",
    "O'Neil",
    "Zoë",
    "Иван",
    "小明",
    "민준",
    "Ayşe",
    "Łukasz",
    "Priya",
    "Giulia",
    "Jean-Éric",
    "Sipho",
    "MICHAEL",
    "jennifer",
    "David",
    "Sarah",
    "James",
    "Linda",
    "Robert",
    "Patricia",
    "William",
    "Elizabeth",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "O'Brien-Smith",
    "García Pérez",
    "Müller",
    "Dupont",
    "Tremblay",
    "Lee",
    "Petrov",
    "王",
    "김",
    "Yılmaz",
    "Wiśniewska",
    "Sharma",
    "Rossi",
    "Ndlovu",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Smith Jr.",
    "van der Berg",
];
const CITIES: &[&str] = &[
    "Menlo Park",
    "New York",
    "San Francisco",
    "Los Angeles",
    "Chicago",
    "Houston",
    "São Paulo",
    "München",
    "Paris",
    "London",
    "Montréal",
    "Toronto",
    "Kraków",
    "Malmö",
    "Москва",
    "東京",
    "Austin",
    "Seattle",
    "Boston",
    "Denver",
];
const STATES: &[&str] = &[
    "CA",
    "California",
    "NY",
    "New York",
    "N.Y.",
    "TX",
    "Texas",
    "WA",
    "Washington",
    "IL",
    "Québec",
    "Ontario",
    "ON",
    "Bayern",
    "Île-de-France",
    "MA",
    "Mass.",
    "FL",
    "Florida",
    "CO",
];
const COUNTRIES: &[&str] = &[
    "US",
    "us",
    "USA",
    "United States",
    "U.S.A.",
    "CA",
    "Canada",
    "GB",
    "UK",
    "France",
    "FR",
    "Deutschland",
    "DE",
    "Brasil",
    "Mexico",
    "méXiCo",
    "JP",
    "India",
    "",
    "",
];
const GENDERS: &[&str] = &[
    "F", "M", "Female", "Male", "female", "male", "f", "m", "", "Other", "femme", "W",
];

fn email(rng: &mut Rng) -> String {
    let first = [
        "john", "mary", "j.doe", "ann.lee", "bob", "jose", "maria", "li", "kim", "olga",
    ];
    let domains = [
        "gmail.com",
        "Example.COM",
        "yahoo.com",
        "outlook.com",
        "hotmail.co.uk",
        "web.de",
    ];
    let n = rng.below(1_000_000);
    let local = first[rng.below(first.len())];
    let domain = domains[rng.below(domains.len())];
    match rng.below(5) {
        0 => format!("  {local}{n}@{domain} "),
        1 => format!("{}{n}@{domain}", local.to_uppercase()),
        2 => format!("\u{a0}{local}.{n}@{domain}"),
        _ => format!("{local}{n}@{domain}"),
    }
}

fn phone_number(rng: &mut Rng, country: &str) -> String {
    let a = 200 + rng.below(700);
    let b = 200 + rng.below(700);
    let c = rng.below(10_000);
    let d = rng.below(100);
    match (country, rng.below(6)) {
        ("France" | "FR", _) => format!(
            "06 {:02} {:02} {:02} {d:02}",
            rng.below(100),
            rng.below(100),
            rng.below(100)
        ),
        ("GB" | "UK", 0) => format!("+44 (0)20 7946 {:04}", c),
        ("GB" | "UK", _) => format!("07911 {:06}", rng.below(1_000_000)),
        ("Deutschland" | "DE", _) => format!("0151 {:08}", rng.below(100_000_000)),
        (_, 0) => format!("+1 ({a}) {b}-{c:04}"),
        (_, 1) => format!("{a}.{b}.{c:04}"),
        (_, 2) => format!("1{a}{b}{c:04}"),
        (_, 3) => format!("+1{a}{b}{c:04}"),
        (_, 4) => format!("({a}) {b}-{c:04}"),
        _ => format!("{a}-{b}-{c:04}"),
    }
}

fn zip(rng: &mut Rng, country: &str) -> String {
    match country {
        "GB" | "UK" => ["SW1A 1AA", "M1 1AE", "EC1A 1BB", "B33 8TH"][rng.below(4)].to_owned(),
        "CA" | "Canada" => ["K1A 0B1", "H3Z 2Y7", "M5V 3L9"][rng.below(3)].to_owned(),
        "France" | "FR" => format!("75{:03}", rng.below(1000)),
        _ => match rng.below(4) {
            0 => format!("{:05}-{:04}", rng.below(100_000), rng.below(10_000)),
            1 => format!("{}", 1000 + rng.below(9000)),
            _ => format!("{:05}", rng.below(100_000)),
        },
    }
}

fn birth_date(rng: &mut Rng) -> String {
    let year = 1930 + rng.below(80);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match rng.below(8) {
        0 => format!("{year}-{month:02}-{day:02}"),
        1 => format!("{month}/{day}/{year}"),
        2 => format!("{day:02}.{month:02}.{year}"),
        3 => format!("{year}{month:02}{day:02}"),
        4 => format!("{} {day}, {year}", months[month - 1]),
        5 => format!("{year}-{month:02}-{day:02}T00:00:00Z"),
        6 => format!("{day} {} {year}", months[month - 1]),
        _ => format!("{year}"),
    }
}

/// One messy 11-column user: user_id, email, phone, first, last, city, state, zip, country,
/// dob, gender.
fn messy_row(rng: &mut Rng, index: usize) -> [String; 11] {
    let country = rng.pick(COUNTRIES).to_owned();
    [
        format!("CRM-{index:08}"),
        email(rng),
        phone_number(rng, &country),
        rng.pick(FIRST_NAMES).to_owned(),
        rng.pick(LAST_NAMES).to_owned(),
        rng.pick(CITIES).to_owned(),
        rng.pick(STATES).to_owned(),
        zip(rng, &country),
        country,
        birth_date(rng),
        rng.pick(GENDERS).to_owned(),
    ]
}

const FIELDS: [Field; 11] = [
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

fn corpus() -> Vec<[String; 11]> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..N_ROWS)
        .map(|index| messy_row(&mut rng, index))
        .collect()
}

fn column(rows: &[[String; 11]], index: usize) -> Vec<&str> {
    rows.iter().map(|row| row[index].as_str()).collect()
}

fn bench_normalizers(criterion: &mut Criterion<ThreadCpuTime>) {
    let rows = corpus();
    let us = CountryCode::parse("US");
    let mut group = criterion.benchmark_group("normalize");
    group.throughput(Throughput::Elements(rows.len() as u64));
    let mut out = String::new();

    let emails = column(&rows, 1);
    group.bench_function("email", |bencher| {
        bencher.iter(|| {
            for value in &emails {
                let _ = black_box(email::email(value, &mut out));
            }
        })
    });
    let phones: Vec<(&str, Option<CountryCode>)> = rows
        .iter()
        .map(|row| (row[2].as_str(), CountryCode::parse(&row[8]).or(us)))
        .collect();
    group.bench_function("phone", |bencher| {
        bencher.iter(|| {
            for (value, region) in &phones {
                let _ = black_box(phone::phone(value, *region, &mut out));
            }
        })
    });
    let e164: Vec<String> = (0..rows.len())
        .map(|index| format!("+1650555{:04}", index % 10_000))
        .collect();
    group.bench_function("phone_e164_fast_path", |bencher| {
        bencher.iter(|| {
            for value in &e164 {
                let _ = black_box(phone::phone(value, us, &mut out));
            }
        })
    });
    let first_names = column(&rows, 3);
    group.bench_function("name_unicode", |bencher| {
        bencher.iter(|| {
            for value in &first_names {
                let _ = black_box(name::name(value, NameScript::Unicode, &mut out));
            }
        })
    });
    let cities = column(&rows, 5);
    group.bench_function("city", |bencher| {
        bencher.iter(|| {
            for value in &cities {
                let _ = black_box(location::city(value, &mut out));
            }
        })
    });
    let states = column(&rows, 6);
    group.bench_function("state", |bencher| {
        bencher.iter(|| {
            for value in &states {
                let _ = black_box(location::state(value, us, &mut out));
            }
        })
    });
    let zips: Vec<(&str, Option<CountryCode>)> = rows
        .iter()
        .map(|row| (row[7].as_str(), CountryCode::parse(&row[8])))
        .collect();
    group.bench_function("zip", |bencher| {
        bencher.iter(|| {
            for (value, country) in &zips {
                let _ = black_box(location::zip(value, *country, &mut out));
            }
        })
    });
    let countries = column(&rows, 8);
    group.bench_function("country", |bencher| {
        bencher.iter(|| {
            for value in &countries {
                let _ = black_box(country::country(value));
            }
        })
    });
    let dates = column(&rows, 9);
    group.bench_function("date_of_birth", |bencher| {
        bencher.iter(|| {
            for value in &dates {
                let _ = black_box(date::date_of_birth(value, DateOrder::MonthDayYear, YEAR));
            }
        })
    });
    let genders = column(&rows, 10);
    group.bench_function("gender", |bencher| {
        bencher.iter(|| {
            for value in &genders {
                let _ = black_box(gender::gender(value));
            }
        })
    });
    group.bench_function("sha256_hex", |bencher| {
        let mut buffer = [0u8; 64];
        bencher.iter(|| {
            for value in &emails {
                black_box(audsync_core::hash::hex_str(
                    &audsync_core::hash::sha256(value),
                    &mut buffer,
                ));
            }
        })
    });
    group.finish();
}

fn bench_process(criterion: &mut Criterion<ThreadCpuTime>) {
    let rows = corpus();
    let mut options = NormalizeOptions::new(YEAR);
    options.default_country = CountryCode::parse("US");
    let engine = Engine::new(options, EligibilityRule::default());
    let rows: Vec<[&str; 11]> = rows
        .iter()
        .map(|row| std::array::from_fn(|index| row[index].as_str()))
        .collect();
    let mut group = criterion.benchmark_group("engine");
    group.throughput(Throughput::Elements(rows.len() as u64));
    let mut scratch = Scratch::new();
    group.bench_function("process_11_columns", |bencher| {
        bencher.iter(|| {
            for row in &rows {
                black_box(engine.process(&FIELDS, row, &mut scratch));
            }
        })
    });
    // What `audsync hash` does per row: the member read in place and written as CSV text.
    let mut line = Vec::with_capacity(4096);
    group.bench_function("process_view_11_columns_to_csv", |bencher| {
        bencher.iter(|| {
            for row in &rows {
                line.clear();
                if let Ok(member) = engine.process_view(&FIELDS, row, &mut scratch) {
                    for key in MatchKey::ALL {
                        member.write_wire_bytes(key, &mut line);
                        line.push(b',');
                    }
                }
                black_box(&line);
            }
        })
    });
    group.bench_function("normalize_11_columns", |bencher| {
        bencher.iter(|| {
            for row in &rows {
                black_box(engine.normalize(&FIELDS, row, &mut scratch));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_normalizers, bench_process
}
criterion_main!(benches);
