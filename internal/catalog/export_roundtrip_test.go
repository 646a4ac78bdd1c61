package catalog_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/importer"
)

// An export imported back into its source reports every product
// unchanged (the API contract), in each format that carries everything,
// whatever happened to the catalog between the import and the export.
func TestExportReimportsUnchanged(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		after      func(ctx context.Context, d *dbtest.DB) error
	}{
		{"option values whose byte order is not the collation's, no stock column",
			"handle,title,sku,price,option1_name,option1_value\n" +
				"fruit,Fruit,F-1,1.00,Flavor,apple\n" +
				"fruit,,F-2,1.00,,Banana\n" +
				"fruit,,F-3,1.00,,Émincé\n", nil},
	}
	for _, c := range cases {
		for _, format := range []string{"csv", "ndjson"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				d := dbtest.New(t)
				ctx := context.Background()
				if rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(c.file), catalog.ImportOptions{}); err != nil || rep.Failed != 0 {
					t.Fatalf("import: %+v, %v", rep, err)
				}
				if c.after != nil {
					if err := c.after(ctx, d); err != nil {
						t.Fatal(err)
					}
				}
				var buf bytes.Buffer
				fw, err := importer.NewWriter(format, &buf)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := catalog.Export(ctx, d.Store, fw, catalog.ExportOptions{}); err != nil {
					t.Fatal(err)
				}
				rep, err := importFile(ctx, d.Store, format, bytes.NewReader(buf.Bytes()), catalog.ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Created+rep.Updated+rep.Failed != 0 || rep.Unchanged == 0 {
					t.Errorf("re-import of its own export: %+v, want every product unchanged\nexport:\n%s", rep, buf.String())
				}
			})
		}
	}
}
