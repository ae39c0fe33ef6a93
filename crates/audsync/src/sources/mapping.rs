//! Column mapping: which source column feeds which [`Field`], chosen automatically from the
//! column names or given as `--map COLUMN=KEY`, and which column holds each row's user id.

use std::fmt::Write as _;

use anyhow::{bail, ensure};
use audsync_core::{Field, MatchKey};

use crate::sources::SegmentSource;

/// How the columns of a source feed match keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMapping {
    /// Every mapped column as (column position, field), in column order.
    pub mapped: Vec<(usize, Field)>,
    /// The column that gives each row's user id.
    pub user_id_column: usize,
    /// Columns that feed nothing, with why (`None`: no known name).
    pub unmapped: Vec<(usize, Option<Field>)>,
    /// Whether the mapping came from the column names rather than `--map`.
    pub automatic: bool,
}

impl ColumnMapping {
    /// Maps the columns of `source`: from `explicit` (`(COLUMN, KEY)` pairs of `--map`) when
    /// given, else automatically with [`Field::from_column_name`] (the first column of each
    /// field wins). The user id comes from `user_id_column`, else from the column mapped to
    /// EXTERN_ID.
    pub fn resolve(
        source: &mut SegmentSource,
        explicit: &[(String, String)],
        user_id_column: Option<&str>,
    ) -> anyhow::Result<ColumnMapping> {
        let mut mapping = if explicit.is_empty() {
            Self::automatic(source)
        } else {
            Self::explicit(source, explicit)?
        };
        mapping.user_id_column = match user_id_column {
            Some(name) => match source.column_index_or_add(name) {
                Some(index) => index,
                None => bail!(
                    "--user-id-column {name:?}: no such column in {} (columns: {})",
                    source.name(),
                    source.columns().join(", ")
                ),
            },
            None => match mapping
                .mapped
                .iter()
                .find(|(_, field)| *field == Field::Key(MatchKey::ExternId))
            {
                Some((index, _)) => *index,
                None => bail!(
                    "no user id column: map one to EXTERN_ID (a column named user_id, id, \
                     customer_id, … is mapped automatically) or name it with --user-id-column"
                ),
            },
        };
        ensure!(
            !mapping.mapped.is_empty(),
            "no column of {} maps to a match key (columns: {}); name them with --map COLUMN=KEY",
            source.name(),
            source.columns().join(", ")
        );
        Ok(mapping)
    }

    fn automatic(source: &SegmentSource) -> ColumnMapping {
        let mut mapped: Vec<(usize, Field)> = Vec::new();
        let mut unmapped = Vec::new();
        for (index, name) in source.columns().iter().enumerate() {
            match Field::from_column_name(name) {
                Some(field) if !mapped.iter().any(|(_, taken)| *taken == field) => {
                    mapped.push((index, field));
                }
                other => unmapped.push((index, other)),
            }
        }
        ColumnMapping {
            mapped,
            user_id_column: 0,
            unmapped,
            automatic: true,
        }
    }

    fn explicit(
        source: &mut SegmentSource,
        explicit: &[(String, String)],
    ) -> anyhow::Result<ColumnMapping> {
        let mut mapped: Vec<(usize, Field)> = Vec::new();
        for (column, key) in explicit {
            let Some(field) = Field::parse(key) else {
                let known: Vec<&str> = MatchKey::ALL.iter().map(|key| key.as_str()).collect();
                bail!(
                    "--map {column}={key}: unknown key {key:?} (known: {}, DOB, CONSENT)",
                    known.join(", ")
                );
            };
            let Some(index) = source.column_index_or_add(column) else {
                bail!(
                    "--map {column}={key}: no column {column:?} in {} (columns: {})",
                    source.name(),
                    source.columns().join(", ")
                );
            };
            if let Some((other, _)) = mapped.iter().find(|(_, taken)| *taken == field) {
                bail!(
                    "--map {column}={key}: {field} is already mapped from column {:?}",
                    source.columns()[*other]
                );
            }
            if mapped.iter().any(|(taken, _)| *taken == index) {
                bail!("--map {column}={key}: column {column:?} is mapped twice");
            }
            mapped.push((index, field));
        }
        mapped.sort_by_key(|(index, _)| *index);
        let unmapped = (0..source.columns().len())
            .filter(|index| !mapped.iter().any(|(taken, _)| taken == index))
            .map(|index| (index, None))
            .collect();
        Ok(ColumnMapping {
            mapped,
            user_id_column: 0,
            unmapped,
            automatic: false,
        })
    }

    /// The match keys the mapped fields fill, in Meta's schema order: a key column gives its
    /// key, DOB gives DOBY, DOBM and DOBD, FN also gives FI, consent gives none.
    pub fn output_keys(&self) -> Vec<MatchKey> {
        let filled = |key: MatchKey| {
            self.mapped.iter().any(|(_, field)| match field {
                Field::Key(MatchKey::Fn) => key == MatchKey::Fn || key == MatchKey::Fi,
                Field::Key(mapped_key) => *mapped_key == key,
                Field::DateOfBirth => {
                    matches!(key, MatchKey::Doby | MatchKey::Dobm | MatchKey::Dobd)
                }
                Field::Consent => false,
            })
        };
        MatchKey::ALL
            .into_iter()
            .filter(|key| filled(*key))
            .collect()
    }

    /// The fields of the mapped columns, in the order of [`ColumnMapping::wanted_columns`].
    pub fn fields(&self) -> Vec<Field> {
        self.mapped.iter().map(|(_, field)| *field).collect()
    }

    /// The columns a row parser must deliver: the mapped ones, then the user id column.
    pub fn wanted_columns(&self) -> Vec<usize> {
        let mut wanted: Vec<usize> = self.mapped.iter().map(|(index, _)| *index).collect();
        wanted.push(self.user_id_column);
        wanted
    }

    /// Says, for people, which mapping is used: `email → EMAIL`, one per line, then the
    /// columns left out and the user id column.
    pub fn describe(&self, source: &SegmentSource) -> String {
        let columns = source.columns();
        let mut text = String::new();
        let how = if self.automatic {
            "automatic (from column names; override with --map COLUMN=KEY)"
        } else {
            "from --map"
        };
        let _ = writeln!(text, "column mapping, {how}:");
        for (index, field) in &self.mapped {
            let _ = writeln!(text, "  {} → {field}", columns[*index]);
        }
        for (index, field) in &self.unmapped {
            match field {
                Some(field) => {
                    let _ = writeln!(
                        text,
                        "  {} → (unused: {field} is already mapped)",
                        columns[*index]
                    );
                }
                None => {
                    let _ = writeln!(text, "  {} → (unmapped)", columns[*index]);
                }
            }
        }
        let noun = source.column_noun();
        let _ = writeln!(text, "user id {noun}: {}", columns[self.user_id_column]);
        text
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::path::PathBuf;

    use super::*;
    use crate::sources::FileFormat;
    use crate::sources::file::FileSource;

    fn csv_source(header: &str) -> SegmentSource {
        SegmentSource::from_file_source(
            FileSource::from_reader(
                PathBuf::from("test.csv"),
                Box::new(Cursor::new(format!("{header}\n").into_bytes())),
                FileFormat::Csv,
            )
            .unwrap(),
        )
    }

    #[test]
    fn automatic_mapping_uses_column_names_and_first_wins() {
        let mut source = csv_source("user_id,E-Mail,phone,mobile,notes,first_name,dob");
        let mapping = ColumnMapping::resolve(&mut source, &[], None).unwrap();
        assert_eq!(
            mapping.mapped,
            [
                (0, Field::Key(MatchKey::ExternId)),
                (1, Field::Key(MatchKey::Email)),
                (2, Field::Key(MatchKey::Phone)),
                (5, Field::Key(MatchKey::Fn)),
                (6, Field::DateOfBirth),
            ]
        );
        assert_eq!(
            mapping.unmapped,
            [(3, Some(Field::Key(MatchKey::Phone))), (4, None)]
        );
        assert_eq!(mapping.user_id_column, 0);
        assert_eq!(
            mapping.output_keys(),
            [
                MatchKey::ExternId,
                MatchKey::Email,
                MatchKey::Phone,
                MatchKey::Doby,
                MatchKey::Dobm,
                MatchKey::Dobd,
                MatchKey::Fn,
                MatchKey::Fi,
            ]
        );
        let text = mapping.describe(&source);
        assert!(text.contains("  E-Mail → EMAIL\n"), "{text}");
        assert!(
            text.contains("  mobile → (unused: PHONE is already mapped)\n"),
            "{text}"
        );
        assert!(text.contains("  notes → (unmapped)\n"), "{text}");
    }

    #[test]
    fn explicit_mapping_checks_keys_columns_and_duplicates() {
        let mut source = csv_source("ref,mail,tel");
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(column, key)| (column.to_string(), key.to_string()))
                .collect()
        };
        let mapping = ColumnMapping::resolve(
            &mut source,
            &pairs(&[("tel", "phone"), ("mail", "EMAIL")]),
            Some("ref"),
        )
        .unwrap();
        assert_eq!(
            mapping.mapped,
            [
                (1, Field::Key(MatchKey::Email)),
                (2, Field::Key(MatchKey::Phone))
            ]
        );
        assert_eq!(mapping.user_id_column, 0);
        assert_eq!(mapping.wanted_columns(), [1, 2, 0]);

        let error = ColumnMapping::resolve(&mut source, &pairs(&[("mail", "MAILS")]), Some("ref"))
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown key \"MAILS\""),
            "{error}"
        );
        let error = ColumnMapping::resolve(&mut source, &pairs(&[("nope", "EMAIL")]), Some("ref"))
            .unwrap_err();
        assert!(error.to_string().contains("no column \"nope\""), "{error}");
        let error = ColumnMapping::resolve(
            &mut source,
            &pairs(&[("mail", "EMAIL"), ("tel", "email")]),
            Some("ref"),
        )
        .unwrap_err();
        assert!(error.to_string().contains("already mapped"), "{error}");
        let error =
            ColumnMapping::resolve(&mut source, &pairs(&[("mail", "EMAIL")]), None).unwrap_err();
        assert!(error.to_string().contains("no user id column"), "{error}");
    }
}
