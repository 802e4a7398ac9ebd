//! Writes a corpus as a Parquet file, as Hugging Face serves datasets: for
//! the Parquet tests (shared by path) and the load benchmark. The label sits
//! in a nested group (`meta.label`), so a manifest reaches it by JSON pointer.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// One row: id, prompt, category, expected decision, label.
pub type ParquetRow = [String; 5];

const SCHEMA: &str = "message corpus {
  REQUIRED BYTE_ARRAY id (UTF8);
  REQUIRED BYTE_ARRAY prompt (UTF8);
  REQUIRED BYTE_ARRAY category (UTF8);
  REQUIRED BYTE_ARRAY expected (UTF8);
  REQUIRED group meta {
    REQUIRED BYTE_ARRAY label (UTF8);
  }
}";

/// Writes `rows` in row groups of `per_group`, snappy-compressed.
pub fn write_parquet(path: &Path, rows: &[ParquetRow], per_group: usize) {
    let schema = Arc::new(parquet::schema::parser::parse_message_type(SCHEMA).expect("schema"));
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let file = std::fs::File::create(path).expect("create parquet file");
    let mut writer = SerializedFileWriter::new(file, schema, props).expect("writer");
    for group in rows.chunks(per_group.max(1)) {
        let mut row_group = writer.next_row_group().expect("row group");
        let mut column = 0;
        while let Some(mut col) = row_group.next_column().expect("column") {
            let values: Vec<ByteArray> = group.iter().map(|r| ByteArray::from(r[column].as_str())).collect();
            col.typed::<ByteArrayType>().write_batch(&values, None, None).expect("write");
            col.close().expect("close column");
            column += 1;
        }
        row_group.close().expect("close row group");
    }
    writer.close().expect("close file");
}
