import Typography from '@mui/material/Typography';
import { Pagination, useListContext } from 'react-admin';

/**
 * The lists' pagination. When the API's total is a lower bound (docs/data.md, "Totals"), the
 * data provider answers with partial pagination (previous/next, "1-25 of more than 25") and
 * the bound, which is said here in words: "More than 10,000 match".
 */
export function ListPagination() {
  const { meta } = useListContext();
  const atLeast = (meta as { totalAtLeast?: number } | undefined)?.totalAtLeast;
  return (
    <>
      {atLeast !== undefined && (
        <Typography variant="body2" color="text.secondary" sx={{ px: 2, pt: 1 }} data-testid="total-at-least">
          More than {atLeast.toLocaleString('en')} match
        </Typography>
      )}
      <Pagination rowsPerPageOptions={[10, 25, 50, 100]} />
    </>
  );
}
