"""The ranking task: every model that can rank orders the whole catalogue for each user of a leave-last-out split
(``sasnet.data.leave_last_out``), scored by top-k metrics (``metrics``) over the users."""
