// Package parquetfile writes the objects of the object outputs (esa_local, esa_s3_verified, esa_oss)
// as Apache Parquet files: one optional column per delivered field, typed from the field catalog and
// in the task's order, and CustomFields as a group of three map<string,string> columns. The records
// arrive as NDJSON (what plugins/objects encodes) and are written as rows through parquet-go's
// low-level Row API with a schema built once; a row group is flushed to the spool file every
// RowGroupRows rows or RowGroupBytes bytes of records, so that memory stays bounded whatever the
// object's size, and the footer is written when the object is closed.
package parquetfile

import (
	"fmt"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// Column types: the `type` of a column of the `parquet.columns` field of the object outputs.
const (
	// TypeString is a UTF-8 string (BYTE_ARRAY, STRING). A JSON number, bool, object or array in a
	// string column is stored as its JSON text.
	TypeString = "string"
	// TypeInt64 is a signed 64-bit integer (INT64).
	TypeInt64 = "int64"
	// TypeDouble is a 64-bit float (DOUBLE).
	TypeDouble = "double"
	// TypeBool is a boolean (BOOLEAN).
	TypeBool = "bool"
	// TypeCustomFields is the CustomFields object of esa_fields: a group of three
	// map<string,string> columns, request_headers, response_headers and cookies.
	TypeCustomFields = "custom_fields"
)

// Types are the column types, in the order the docs list them.
var Types = []string{TypeString, TypeInt64, TypeDouble, TypeBool, TypeCustomFields}

// CustomKinds are the members of a CustomFields column, in column order.
var CustomKinds = []string{"request_headers", "response_headers", "cookies"}

// Column is one top-level column: a delivered field and its type.
type Column struct {
	Name string
	Type string
}

// leaves is the number of leaf (Parquet) columns of a column of type t.
func leaves(t string) int {
	if t == TypeCustomFields {
		return 2 * len(CustomKinds) // key and value of each map
	}
	return 1
}

// orderedGroup is a group whose fields come in a given order (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group
	order []string
}

// Fields returns the group's fields in g.order.
func (g orderedGroup) Fields() []parquet.Field {
	fields := slices.Clone(g.Group.Fields())
	slices.SortStableFunc(fields, func(a, b parquet.Field) int {
		return slices.Index(g.order, a.Name()) - slices.Index(g.order, b.Name())
	})
	return fields
}

// newSchema checks cols (names distinct and non-empty, known types) and returns their Parquet schema:
// every column optional, in the order given.
func newSchema(cols []Column) (*parquet.Schema, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("no columns")
	}
	root := orderedGroup{Group: parquet.Group{}}
	for i, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("columns[%d]: empty name", i)
		}
		if _, dup := root.Group[c.Name]; dup {
			return nil, fmt.Errorf("columns[%d]: %q is given twice", i, c.Name)
		}
		var n parquet.Node
		switch c.Type {
		case TypeString:
			n = parquet.String()
		case TypeInt64:
			n = parquet.Int(64)
		case TypeDouble:
			n = parquet.Leaf(parquet.DoubleType)
		case TypeBool:
			n = parquet.Leaf(parquet.BooleanType)
		case TypeCustomFields:
			g := orderedGroup{Group: parquet.Group{}, order: CustomKinds}
			for _, k := range CustomKinds {
				g.Group[k] = parquet.Optional(parquet.Map(parquet.String(), parquet.Optional(parquet.String())))
			}
			n = g
		default:
			return nil, fmt.Errorf("columns[%d] (%s): unknown type %q (want one of %v)", i, c.Name, c.Type, Types)
		}
		root.Group[c.Name] = parquet.Optional(n)
		root.order = append(root.order, c.Name)
	}
	return parquet.NewSchema("esa_log", root), nil
}
